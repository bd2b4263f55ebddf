"""GS1 keys: the check digit, EPC URI ↔ Digital Link for every scheme of the Tag Data Standard,
the twin's canonical ids, and what validation says of a bad identifier.

The expectations come from ``tests/_gs1.py``, which computes them from the standards' tables
on its own, and from worked examples of the GS1 standards."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from _gs1 import CLASS_SCHEMES, INSTANCE_SCHEMES, SCHEMES, Epc, epcs
from keiretsu.model import gs1
from keiretsu.model.gs1 import (
    Key,
    canonical_id,
    check_digit,
    constrained_link,
    epc_urn,
    identifier_problem,
    identify,
    parse_epc,
    parse_link,
)

_settings = settings(max_examples=400, deadline=None)


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("629104150021", "3"),  # GS1 General Specifications' worked example: GTIN-13 6291041500213
        ("061414112345", "2"),  # the GLN 0614141123452 of the TDS examples
        ("10614141234567890", "8"),  # the SSCC 106141412345678908
        ("8061414112345", "8"),  # the GTIN-14 80614141123458
        ("", "0"),
    ],
)
def test_the_check_digit(digits: str, expected: str) -> None:
    assert check_digit(digits) == expected


# --- every scheme: one key, two spellings ------------------------------------------------------


@_settings
@given(epcs())
def test_an_epc_and_its_digital_link_are_one_canonical_id(epc: Epc) -> None:
    assert canonical_id(epc.urn) == epc.canonical
    assert canonical_id(epc.link) == epc.canonical
    assert canonical_id(epc.canonical) == epc.canonical
    assert identify(epc.urn)[1] == identify(epc.link)[1] is not None
    assert (identify(epc.urn)[1] in gs1.CLASS_TYPES) == epc.is_class


@_settings
@given(epcs())
def test_the_digital_link_goes_back_to_the_epc_given_the_company_prefix_length(epc: Epc) -> None:
    key = parse_link(epc.canonical)
    assert key is not None
    assert key == parse_epc(epc.urn) == parse_link(epc.link, strict=False)
    back = epc_urn(key, epc.prefix_length)
    assert back is not None
    assert parse_epc(back) == key
    assert epc_urn(epc.canonical, epc.prefix_length) == back


@_settings
@given(epcs())
def test_every_drawn_identifier_passes_validation(epc: Epc) -> None:
    assert identifier_problem(epc.urn) is None
    assert identifier_problem(epc.link) is None
    assert identifier_problem(epc.canonical) is None


@_settings
@given(epcs())
def test_the_hash_form_is_the_same_for_both_spellings(epc: Epc) -> None:
    urn_key, link_key = parse_epc(epc.urn), parse_link(epc.link, strict=False)
    assert urn_key is not None and link_key is not None
    assert constrained_link(urn_key) == constrained_link(link_key) is not None


@_settings
@given(epcs(), epcs())
def test_remembered_heads_convert_as_the_first_time(epc: Epc, other: Epc) -> None:
    # the memos of identify and constrained_id (a new serial of a head met before is converted
    # by appending) give what the parser gives, whatever was met before
    for text in (epc.urn, epc.link, other.urn, other.link, epc.urn, epc.link):
        key = parse_epc(text) if text.startswith("urn:") else parse_link(text, strict=False)
        assert key is not None
        assert gs1.constrained_id(text) == constrained_link(key)
        assert identify(text)[0] in (text, gs1.link(key))


def test_every_tag_data_standard_scheme_is_drawn() -> None:
    listed = {name.partition(":")[2] for name in gs1.EPC_SCHEMES}
    gs1_schemes = listed - {"gid", "usdod", "adi", "bic", "imovn"}
    assert gs1_schemes == set(INSTANCE_SCHEMES) | {"lgtin"}
    assert len(SCHEMES) == len(INSTANCE_SCHEMES) + len(CLASS_SCHEMES)


# --- worked examples -------------------------------------------------------------------------

# EPC URI → the key it carries (GS1 EPC Tag Data Standard examples; the idpat forms name one
# class: all serials of one product, asset type, document type…)
EXAMPLES = [
    ("urn:epc:id:sgtin:0614141.812345.6789", "https://id.gs1.org/01/80614141123458/21/6789"),
    ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
    ("urn:epc:id:sgln:0614141.12345.400", "https://id.gs1.org/414/0614141123452/254/400"),
    ("urn:epc:id:sgln:0614141.12345.0", "https://id.gs1.org/414/0614141123452"),
    ("urn:epc:id:grai:0614141.12345.400", "https://id.gs1.org/8003/00614141123452400"),
    ("urn:epc:id:giai:0614141.12345400", "https://id.gs1.org/8004/061414112345400"),
    ("urn:epc:id:gsrn:0614141.1234567890", "https://id.gs1.org/8018/061414112345678902"),
    ("urn:epc:id:gsrnp:0614141.1234567890", "https://id.gs1.org/8017/061414112345678902"),
    ("urn:epc:id:gdti:0614141.12345.400", "https://id.gs1.org/253/0614141123452400"),
    (
        "urn:epc:id:cpi:0614141.123ABC.123456789",
        "https://id.gs1.org/8010/0614141123ABC/8011/123456789",
    ),
    ("urn:epc:id:cpi:0614141.123%23%2F.1", "https://id.gs1.org/8010/0614141123%23%2F/8011/1"),
    ("urn:epc:id:sgcn:4012345.67890.04711", "https://id.gs1.org/255/401234567890104711"),
    ("urn:epc:id:ginc:0614141.xyz47%2F11", "https://id.gs1.org/401/0614141xyz47%2F11"),
    ("urn:epc:id:gsin:0614141.123456789", "https://id.gs1.org/402/06141411234567890"),
    (
        "urn:epc:id:itip:4012345.012345.01.02.987",
        "https://id.gs1.org/8006/040123451234560102/21/987",
    ),
    (
        "urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7'SDB",
        "https://id.gs1.org/01/01234567987651/235/51qIgY%29%3C%26Jp3%2Aj7%27SDB",
    ),
    ("urn:epc:id:pgln:1234567.89012", "https://id.gs1.org/417/1234567890128"),
    ("urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/04012345123456/10/998877"),
    ("urn:epc:idpat:sgtin:4012345.012345.*", "https://id.gs1.org/01/04012345123456"),
    ("urn:epc:idpat:upui:4012345.012345.*", "https://id.gs1.org/01/04012345123456"),
    ("urn:epc:idpat:itip:4012345.012345.01.02.*", "https://id.gs1.org/8006/040123451234560102"),
    ("urn:epc:idpat:grai:4012345.66666.*", "https://id.gs1.org/8003/04012345666663"),
    ("urn:epc:idpat:gdti:4012345.55555.*", "https://id.gs1.org/253/4012345555554"),
    ("urn:epc:idpat:sgcn:4012345.99999.*", "https://id.gs1.org/255/4012345999990"),
    ("urn:epc:idpat:cpi:4012345.ABC.*", "https://id.gs1.org/8010/4012345ABC"),
]


@pytest.mark.parametrize(("urn", "link"), EXAMPLES)
def test_worked_examples(urn: str, link: str) -> None:
    assert canonical_id(urn) == link
    assert canonical_id(link) == link


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("https://id.gs1.org/01/04012345123456/21/1", gs1.TRADE_ITEM),
        ("https://id.gs1.org/01/04012345123456/235/1", gs1.TRADE_ITEM),
        ("https://id.gs1.org/01/04012345123456/10/L1", gs1.PRODUCT_LOT),
        ("https://id.gs1.org/01/04012345123456", gs1.PRODUCT_CLASS),
        ("https://id.gs1.org/8006/040123451234560102/21/1", gs1.TRADE_ITEM_PIECE),
        ("https://id.gs1.org/8003/04012345666663", gs1.RETURNABLE_ASSET_TYPE),
        ("https://id.gs1.org/8003/04012345666663A1", gs1.RETURNABLE_ASSET),
        ("https://id.gs1.org/253/4012345555554", gs1.DOCUMENT_TYPE),
        ("https://id.gs1.org/253/4012345555554X", gs1.DOCUMENT),
        ("https://id.gs1.org/255/4012345999990", gs1.COUPON_TYPE),
        ("https://id.gs1.org/8010/4012345ABC/8011/1", gs1.COMPONENT),
        ("https://id.gs1.org/8010/4012345ABC", gs1.COMPONENT_TYPE),
        ("https://id.gs1.org/401/4012345X", gs1.CONSIGNMENT),
        ("https://id.gs1.org/402/40123459999876541", gs1.SHIPMENT),
        ("urn:epc:id:gid:95100000.12345.400", gs1.ITEM),
        ("urn:epc:idpat:sgtin:4012345.*.*", gs1.PRODUCT_CLASS),
        ("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", None),
    ],
)
def test_what_a_key_names(text: str, kind: str | None) -> None:
    assert identify(text)[1] == kind


def test_digital_link_spellings_read_as_one() -> None:
    canonical = "https://id.gs1.org/01/04012345999990/10/L1/21/7"
    for spelling in [
        "https://example.com/01/4012345999990/21/7/10/L1",  # GTIN-13, qualifiers reordered
        "https://example.com/shop/gtin/04012345999990/lot/L1/ser/7",  # path prefix, short names
        "http://id.gs1.org/01/04012345999990/10/L1/21/7",
    ]:
        assert canonical_id(spelling) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "https://id.gs1.org/01/04012345999991/21/1",  # wrong check digit
        "https://id.gs1.org/01/04012345999990/21/1?17=250101",  # carries data attributes
        "https://id.gs1.org/01/04012345999990/21/123456789012345678901",  # serial too long
        "https://id.gs1.org/01/04012345999990/99/1",  # not a key qualifier of a GTIN
        "https://id.gs1.org/01/04012345999990/21/1/235/2",  # serial or TPX, not both
        "https://example.com/products/42",
        "urn:epc:id:sgtin:0614141.12345.400",  # 12 digits: not a GTIN
        "urn:epc:id:sgtin:0614141.812345.",  # no serial
        "urn:epc:idpat:sgtin:0614141.*.*",  # a pattern of many products: no one key
        "urn:epc:id:sgcn:4012345.99999.AB",  # a coupon serial is digits
    ],
)
def test_what_is_not_reliably_a_gs1_key_is_kept_as_written(text: str) -> None:
    assert canonical_id(text) == text


def test_the_hash_form_is_constrained() -> None:
    key = Key("01", "04012345999990", (("22", "A"), ("10", "L1"), ("21", "7")))
    assert constrained_link(key) == "https://id.gs1.org/01/04012345999990/21/7"
    assert constrained_link(Key("01", "04012345999990", (("10", "L1"),))) == (
        "https://id.gs1.org/01/04012345999990/10/L1"
    )
    assert constrained_link(Key("414", "4012345000016", (("7040", "1A23"),))) is None
    # the reference implementation's escaping: ' ; = stay, the rest of the reserved set does not
    assert constrained_link(Key("01", "04012345999990", (("21", "a'b;c=d!(e)"),))) == (
        "https://id.gs1.org/01/04012345999990/21/a'b;c=d%21%28e%29"
    )


def test_a_digital_link_without_its_prefix_length_has_no_single_urn() -> None:
    link = "https://id.gs1.org/01/80614141123458/21/6789"
    assert epc_urn(link, 7) == "urn:epc:id:sgtin:0614141.812345.6789"
    assert epc_urn(link, 9) == "urn:epc:id:sgtin:061414112.8345.6789"
    assert epc_urn(link, 5) is None
    assert epc_urn("https://id.gs1.org/01/04012345999990/22/A", 7) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("urn:epc:id:sgtin:4012345.0111111.1", "make 14 digits, the 'sgtin' scheme needs 13"),
        ("urn:epc:id:sgtin:401.2345011111.1", "company prefix 6 to 12"),
        ("urn:epc:id:sgtin:4012345.011111.a b", "does not follow the EPC 'sgtin' syntax"),
        ("urn:epc:id:sgtin:4012345.011111.a%23b", "does not follow the EPC 'sgtin' syntax"),
        ("urn:epc:id:foo:1.2", "'foo' is not an EPC scheme"),
        ("urn:epc:idpat:foo:1.*", "'foo' is not an EPC scheme"),
        ("urn:epc:foo:sgtin:1.2.3", "is not an EPC pure-identity URN"),
        ("urn:epc:id:sgtin", "is not an EPC URN"),
        ("https://id.gs1.org/01/09521141012346/21/1", "wrong GS1 check digit"),
        ("https://id.gs1.org/00/12345", "must have 18 digits"),
        ("https://example.com/8004/", "empty GS1 key"),
    ],
)
def test_what_validation_says_of_a_bad_identifier(text: str, words: str) -> None:
    problem = identifier_problem(text)
    assert problem is not None and words in problem, problem


@pytest.mark.parametrize(
    "text",
    [
        "urn:epc:id:gid:95100000.12345.400",
        "urn:epc:id:usdod:2S194.12345678901",
        "urn:epc:id:adi:2S194.12345678901.ABC",
        "urn:epc:id:bic:CSQU3054383",
        "urn:epc:id:imovn:9176187",
        "urn:epc:idpat:sgtin:0614141.*.*",
        "https://example.com/any/path",
        "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    ],
)
def test_identifiers_of_no_gs1_key_are_valid_as_they_are(text: str) -> None:
    assert identifier_problem(text) is None
    assert parse_epc(text) is None


def test_new_serials_of_a_known_head_are_converted_the_same_as_the_first() -> None:
    first = identify("urn:epc:id:sgtin:4012345.011111.1")
    assert first[0] == "https://id.gs1.org/01/04012345111118/21/1"
    many = gs1.identify_all([f"urn:epc:id:sgtin:4012345.011111.{i}" for i in range(2, 6)])
    assert many[0] == [f"https://id.gs1.org/01/04012345111118/21/{i}" for i in range(2, 6)]
    # a serial longer than the scheme allows is no key, however its head was met before
    long = "urn:epc:id:sgtin:4012345.011111." + "9" * 21
    assert identify(long) == (long, gs1.TRADE_ITEM)
    assert gs1.identify_all([long, long, long])[0] == [long] * 3
    assert gs1.constrained_id(long) is None
    assert gs1.constrained_id("urn:epc:id:sgtin:4012345.011111.8") == (
        "https://id.gs1.org/01/04012345111118/21/8"
    )
    # an SGLN's extension '0' means none: no prefix + extension shortcut
    assert canonical_id("urn:epc:id:sgln:4012345.00001.7") == (
        "https://id.gs1.org/414/4012345000016/254/7"
    )
    assert canonical_id("urn:epc:id:sgln:4012345.00001.0") == "https://id.gs1.org/414/4012345000016"
    assert gs1.constrained_id("urn:epc:id:sgln:4012345.00001.7") == (
        "https://id.gs1.org/414/4012345000016/254/7"
    )
    assert gs1.constrained_id("urn:epc:id:sgln:4012345.00001.0") == (
        "https://id.gs1.org/414/4012345000016"
    )
