"""GS1 identification keys, and the two ways EPCIS writes them: EPC URIs and GS1 Digital Links.

A **GS1 identification key** names one thing, or one class of things, worldwide: the GTIN a
product, the SSCC a logistic unit (a pallet), the GLN a location or a party, the GRAI a
returnable asset, the GIAI an individual asset, the GDTI a document, the GSRN a service
relation, the GCN a coupon, the CPID a component or part, the GINC a consignment, the GSIN a
shipment. Each key starts with the **GS1 Company Prefix** of the company that assigned it and,
for the numeric keys, ends with a **check digit** (GS1 General Specifications 7.9: the digits
weighted 3, 1, 3… from the right, summed, and the check digit brings the sum to a multiple of
ten). A key may have **key qualifiers** that narrow it: the serial number (AI 21) or the batch
or lot (AI 10) of a GTIN, the extension (AI 254) of a GLN.

EPCIS events carry such keys in two spellings, and this module is the one place that knows both:

* the **EPC pure-identity URI** of the GS1 EPC Tag Data Standard (TDS 2.x, section 6), e.g.
  ``urn:epc:id:sgtin:0614141.812345.6789``: the company prefix and the rest of the key are
  separate fields, the check digit is left out, and the *scheme* (``sgtin``, ``sscc``…) says
  which key it is. TDS defines the schemes sgtin, sscc, sgln, grai, giai, gsrn, gsrnp, gdti,
  cpi, sgcn, ginc, gsin, itip, upui and pgln for GS1 keys, the EPC class ``lgtin`` (a GTIN
  with its lot), *pure-identity patterns* (``urn:epc:idpat:sgtin:0614141.812345.*`` — all
  serials of one product) and the non-GS1 schemes gid, usdod, adi, bic and imovn;
* the **GS1 Digital Link URI** (GS1 Digital Link standard 1.x), e.g.
  ``https://id.gs1.org/01/80614141123458/21/6789``: the application identifier (AI) of the
  primary key and its value, then the key qualifiers, on any web domain.

The two are one key. An EPC URI turns into a Digital Link by arithmetic alone (the check digit
is computed); a Digital Link turns back into an EPC URI only given the length of the GS1 Company
Prefix, which it does not carry (:func:`epc_urn` takes it as an argument). So the twin names
every GS1 key by its **canonical Digital Link** (:func:`identify`, :func:`canonical_id`):
domain ``id.gs1.org``, numeric AIs, the GTIN as 14 digits, key qualifiers only and in the
standard's order, values percent-encoded the one Digital Link way — and a pallet written as an
SSCC URN by one partner and as a Digital Link by the other is one object.

The CBV 2.0 event hash (CBV section 8.9) writes keys in a *constrained* canonical Digital Link
(no consumer product variant, no lot beside a serial, the reference implementation's
percent-encoding): :func:`constrained_link`, built from the same parsed :class:`Key`.

What is not reliably a GS1 key is kept exactly as written: URNs of other schemes, EPC URIs
whose digits do not add up, Digital Links with a wrong check digit or with a query string or
fragment (data attributes are not part of the identity, and dropping them silently would lose
what the partner wrote). :func:`identifier_problem` says, in words, what is wrong with an EPC
URI or a Digital Link — the check EPCIS validation runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote

__all__ = [
    "ASSET",
    "CANONICAL_DOMAIN",
    "CLASS_TYPES",
    "COMPONENT",
    "COMPONENT_TYPE",
    "CONSIGNMENT",
    "COUPON",
    "COUPON_TYPE",
    "DOCUMENT",
    "DOCUMENT_TYPE",
    "EPC_SCHEMES",
    "ITEM",
    "LOCATION",
    "LOGISTIC_UNIT",
    "PARTY",
    "PRODUCT_CLASS",
    "PRODUCT_ID_LENGTH",
    "PRODUCT_LOT",
    "PRODUCT_PREFIX",
    "RETURNABLE_ASSET",
    "RETURNABLE_ASSET_TYPE",
    "SERVICE_RELATION",
    "SHIPMENT",
    "TRADE_ITEM",
    "TRADE_ITEM_PIECE",
    "Key",
    "canonical_id",
    "check_digit",
    "check_digit_ok",
    "constrained_id",
    "constrained_link",
    "epc_urn",
    "identifier_problem",
    "identify",
    "identify_all",
    "instances_regex",
    "key_type",
    "link",
    "parse_epc",
    "parse_link",
    "pattern_regexes",
    "remembered",
]

CANONICAL_DOMAIN = "https://id.gs1.org"
"""The domain of canonical GS1 Digital Link URIs."""
PRODUCT_PREFIX = f"{CANONICAL_DOMAIN}/01/"
"""How the canonical id of anything keyed by a GTIN begins — a serialised trade item
(``…/01/<GTIN>/21/<serial>``), a lot (``…/01/<GTIN>/10/<lot>``), the product class itself;
the 14 digits of the GTIN follow."""
PRODUCT_ID_LENGTH = len(PRODUCT_PREFIX) + 14
"""The length of a product's canonical id, ``https://id.gs1.org/01/<GTIN>``: an identifier
keyed by a GTIN cut to this length names its product (serials and lots roll up to it)."""

# --- what a key names, in a practitioner's words ---------------------------------------------

TRADE_ITEM = "trade item"
"""One serialised trade item: a GTIN with its serial (SGTIN) or its UPUI pack identifier."""
PRODUCT_LOT = "product lot"
"""A GTIN with its batch/lot (the EPC class LGTIN)."""
PRODUCT_CLASS = "product class"
"""A product as a class: a GTIN (or ITIP) alone, an SGTIN pattern, an unrecognised EPC class."""
LOGISTIC_UNIT = "logistic unit"
LOCATION = "location"
PARTY = "party"
RETURNABLE_ASSET = "returnable asset"
RETURNABLE_ASSET_TYPE = "returnable asset type"
"""A GRAI without its serial: the type of asset, not one asset."""
ASSET = "asset"
DOCUMENT = "document"
DOCUMENT_TYPE = "document type"
"""A GDTI without its serial: the type of document."""
SERVICE_RELATION = "service relation"
COUPON = "coupon"
COUPON_TYPE = "coupon type"
"""A GCN without its serial: the coupon offer, not one coupon."""
COMPONENT = "component"
COMPONENT_TYPE = "component type"
"""A CPID without its CPI serial: the component or part as a class."""
TRADE_ITEM_PIECE = "trade item piece"
CONSIGNMENT = "consignment"
SHIPMENT = "shipment"
ITEM = "item"
"""An identified thing whose scheme is not a GS1 key (``urn:uuid:``, ``gid``, a company URI)."""

CLASS_TYPES = frozenset(
    {PRODUCT_CLASS, PRODUCT_LOT, RETURNABLE_ASSET_TYPE, DOCUMENT_TYPE, COUPON_TYPE, COMPONENT_TYPE}
)
"""Object types that name a class of things (a product, a lot, an asset type), not one thing:
in EPCIS they are counted in quantity lists (``epcClass``), not listed as EPCs."""


# --- the check digit ---------------------------------------------------------------------------


@lru_cache(maxsize=1 << 14)
def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for ``digits`` (the key without its check digit): weights 3,
    1, 3… from the right; the check digit brings the weighted sum to a multiple of ten."""
    total = 0
    weight = 3
    for ch in reversed(digits):
        total += (ord(ch) - 48) * weight
        weight = 4 - weight
    return str(-total % 10)


def check_digit_ok(number: str) -> bool:
    """Whether the last digit of ``number`` (all digits) is its GS1 check digit."""
    return len(number) > 1 and number.isdigit() and check_digit(number[:-1]) == number[-1]


def _digits(text: str, length: int | None = None) -> bool:
    return text.isdigit() and text.isascii() and (length is None or len(text) == length)


# --- the keys: GS1 General Specifications and GS1 Digital Link --------------------------------

_AI82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
"""GS1 AI encodable character set 82: what serials, lots and asset references are made of."""
_AI39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
"""GS1 AI encodable character set 39: what a component/part reference (CPID) is made of."""


@dataclass(frozen=True)
class _Format:
    """The value of one AI: ``digits`` leading digits (the check digit at position ``check``,
    1-based, if any), then up to ``tail`` characters of ``chars`` (digits only if None)."""

    digits: int = 0
    check: int | None = None
    tail: int = 0
    chars: frozenset[str] | None = _AI82
    lead: int = 0  # for alphanumeric keys: digits the value must start with (company prefix)

    def problem(self, ai: str, value: str) -> str | None:
        """Why ``value`` is no value of this AI, or None."""
        head, rest = value[: self.digits], value[self.digits :]
        if self.digits and not _digits(head, self.digits):
            if self.tail:
                return f"the key after /{ai}/ must start with {self.digits} digits"
            return f"the key after /{ai}/ must have {self.digits} digits"
        if len(rest) > self.tail:
            if not self.tail:
                return f"the key after /{ai}/ must have {self.digits} digits"
            return f"the value after /{ai}/ is too long ({len(value)} characters)"
        if not self.digits and not rest:
            return f"empty GS1 key after /{ai}/"
        if self.lead and not _digits(rest[: self.lead], self.lead):
            return f"the key after /{ai}/ must start with a GS1 Company Prefix"
        if self.chars is None:
            if rest and not _digits(rest):
                return f"the value after /{ai}/ must be digits"
        elif any(ch not in self.chars for ch in rest):
            return f"the value after /{ai}/ has a character GS1 does not allow"
        return None

    def check_problem(self, value: str) -> str | None:
        if self.check is None:
            return None
        number = value[: self.check]
        if not check_digit_ok(number):
            return f"wrong GS1 check digit in '{number}'"
        return None


@dataclass(frozen=True)
class _KeySpec:
    name: str
    format: _Format
    qualifiers: tuple[tuple[str, ...], ...] = ()
    """The key qualifiers the Digital Link may add, as alternative sequences in their
    standard order (GTIN: 22, 10, 21 — or 235)."""
    alias: str = ""
    """The short name of GS1 Digital Link 1.0 (``/gtin/``), still met in the wild."""
    strict_check: bool = True
    """Whether a Digital Link with a wrong check digit is refused (not for GRAI: published
    examples often carry none)."""


_X20 = _Format(tail=20)
_KEYS: dict[str, _KeySpec] = {
    "01": _KeySpec("GTIN", _Format(14, 14), (("22", "10", "21"), ("235",)), "gtin"),
    "8006": _KeySpec("ITIP", _Format(18, 14), (("22", "10", "21"),), "itip"),
    "8010": _KeySpec("CPID", _Format(tail=30, chars=_AI39, lead=4), (("8011",),), "cpid"),
    "414": _KeySpec("GLN", _Format(13, 13), (("254",), ("7040",)), "gln"),
    "417": _KeySpec("party GLN", _Format(13, 13), (("7040",),), "party"),
    "8017": _KeySpec("GSRNP", _Format(18, 18), (("8019",),), "gsrnp"),
    "8018": _KeySpec("GSRN", _Format(18, 18), (("8019",),), "gsrn"),
    "255": _KeySpec("GCN", _Format(13, 13, 12, None), (), "gcn"),
    "00": _KeySpec("SSCC", _Format(18, 18), (), "sscc"),
    "253": _KeySpec("GDTI", _Format(13, 13, 17), (), "gdti"),
    "401": _KeySpec("GINC", _Format(tail=30, lead=4), (), "ginc"),
    "402": _KeySpec("GSIN", _Format(17, 17), (), "gsin"),
    "8003": _KeySpec("GRAI", _Format(14, 14, 16), (), "grai", strict_check=False),
    "8004": _KeySpec("GIAI", _Format(tail=30, lead=4), (("7040",),), "giai"),
}
"""The primary keys of GS1 Digital Link, by AI."""
_QUALIFIERS: dict[str, _Format] = {
    "22": _X20,  # consumer product variant
    "10": _X20,  # batch or lot
    "21": _X20,  # serial number
    "235": _Format(tail=28),  # third-party controlled, serialised extension of GTIN (TPX)
    "254": _X20,  # GLN extension component
    "7040": _Format(tail=4),  # GS1 UIC with extension 1 and importer index
    "8011": _Format(tail=12, chars=None),  # CPID serial number
    "8019": _Format(tail=10, chars=None),  # service relation instance number
}
_ALIASES = {spec.alias: ai for ai, spec in _KEYS.items()} | {"cpv": "22", "lot": "10", "ser": "21"}


@dataclass(frozen=True, slots=True)
class Key:
    """A GS1 key with its key qualifiers: ``Key("01", "80614141123458", (("21", "6789"),))``.

    Values are GS1 element strings as the AI defines them (check digits included, nothing
    percent-encoded); qualifiers are in the standard's order."""

    ai: str
    value: str
    qualifiers: tuple[tuple[str, str], ...] = ()

    def qualifier(self, ai: str) -> str | None:
        for name, value in self.qualifiers:
            if name == ai:
                return value
        return None


_PLAIN_TYPES = {
    "00": LOGISTIC_UNIT,
    "414": LOCATION,
    "417": PARTY,
    "8004": ASSET,
    "8017": SERVICE_RELATION,
    "8018": SERVICE_RELATION,
    "401": CONSIGNMENT,
    "402": SHIPMENT,
}


def key_type(key: Key) -> str:
    """What ``key`` names, in a practitioner's words: one thing (``trade item``, ``logistic
    unit``…) or, without its serial, a class of things (``product class``, ``document
    type``…)."""
    ai = key.ai
    found = _PLAIN_TYPES.get(ai)
    if found is not None:
        return found
    if ai in ("01", "8006"):
        names = {q for q, _ in key.qualifiers}
        if "21" in names or "235" in names:
            return TRADE_ITEM if ai == "01" else TRADE_ITEM_PIECE
        return PRODUCT_LOT if "10" in names else PRODUCT_CLASS
    if ai == "8010":
        return COMPONENT if key.qualifiers else COMPONENT_TYPE
    if ai == "8003":
        return RETURNABLE_ASSET if len(key.value) > 14 else RETURNABLE_ASSET_TYPE
    if ai == "253":
        return DOCUMENT if len(key.value) > 13 else DOCUMENT_TYPE
    return COUPON if len(key.value) > 13 else COUPON_TYPE  # 255


# --- GS1 Digital Link: reading and writing ---------------------------------------------------


def _enc(value: str) -> str:
    # GS1 Digital Link: everything but the unreserved characters is percent-encoded.
    if value.isalnum() and value.isascii():
        return value
    return quote(value, safe="")


def link(key: Key) -> str:
    """The canonical GS1 Digital Link URI of ``key`` (on ``id.gs1.org``)."""
    text = f"{CANONICAL_DOMAIN}/{key.ai}/{_enc(key.value)}"
    for ai, value in key.qualifiers:
        text += f"/{ai}/{_enc(value)}"
    return text


def _hash_enc(value: str) -> str:
    # CBV 2.0 event hash, as its reference implementation and published vectors write values:
    # ' ; = stay as they are, the other reserved characters are percent-encoded.
    if value.isalnum() and value.isascii():
        return value
    return quote(value, safe="'-.;=_")


# Key qualifiers the constrained canonical form keeps, per primary key.
_CONSTRAINED = {"01": ("21", "10", "235"), "8006": ("21", "10"), "414": ("254",), "8010": ("8011",)}


def constrained_link(key: Key) -> str | None:
    """The *constrained* canonical GS1 Digital Link of the CBV 2.0 event hash (section 8.9):
    the consumer product variant (22) dropped, a lot (10) dropped beside a serial (21), at
    most one qualifier; None for a key the hash does not rewrite (other qualifiers)."""
    kept = [(ai, v) for ai, v in key.qualifiers if ai != "22"]
    if len(kept) > 1 and kept[-1][0] == "21":
        kept = [(ai, v) for ai, v in kept if ai != "10"]
    if len(kept) > 1 or (kept and kept[0][0] not in _CONSTRAINED.get(key.ai, ())):
        return None
    text = f"{CANONICAL_DOMAIN}/{key.ai}/{_hash_enc(key.value)}"
    for ai, value in kept:
        text += f"/{ai}/{_hash_enc(value)}"
    return text


_CONSTRAINED_HEADS: dict[str, tuple[str, str | None, int]] = {}


def constrained_id(text: str) -> str | None:
    """The constrained canonical Digital Link (:func:`constrained_link`) of an identifier as
    written — an EPC URI or a Digital Link on any domain, data attributes ignored — or None if
    it carries no GS1 key the event hash rewrites. Serials of a head met before are converted
    by appending, as :func:`identify` does."""
    found = _by_head(text, _CONSTRAINED_HEADS)
    if found is not None:
        return found[0]
    if text.startswith("urn:epc:"):
        key = parse_epc(text)
    elif text.startswith("http"):
        key = parse_link(text, strict=False)
    else:
        return None
    converted = None if key is None else constrained_link(key)
    if converted is not None and key is not None:
        _remember_head(text, converted, key.ai, _CONSTRAINED_HEADS)
    return converted


def _find_primary(segments: list[str]) -> tuple[int, str] | None:
    """The index of the primary key in the path segments (after the domain) and its AI, or
    None. A short name (``/gtin/``) counts only before a value that starts with digits."""
    for start in range(len(segments) - 1):
        name = segments[start]
        if name in _KEYS:
            return start, name
        ai = _ALIASES.get(name)
        if ai in _KEYS and _digits(segments[start + 1][:4], 4):
            return start, ai
    return None


def _link_path(uri: str) -> tuple[list[str], bool] | None:
    """The path segments after the domain of an http(s) URI, and whether a query string or
    fragment followed them."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    path, _, _ = rest.partition("#")
    path, query, _ = path.partition("?")
    return path.split("/")[1:], bool(query) or "#" in rest


def _read_link(uri: str, strict: bool) -> Key | str | None:
    """A Digital Link as a Key; a problem (text) when it names a GS1 key wrongly; None when it
    is no Digital Link at all (no primary key in its path)."""
    found = _link_path(uri)
    if found is None:
        return None
    segments, attributes = found
    primary = _find_primary(segments)
    if primary is None:
        return None
    start, ai = primary
    spec = _KEYS[ai]
    value = unquote(segments[start + 1])
    if ai == "01" and _digits(value) and len(value) in (8, 12, 13):
        value = value.zfill(14)
    problem = spec.format.problem(ai, value)
    if problem is None and strict and spec.strict_check:
        problem = spec.format.check_problem(value)
    if problem is not None:
        return f"'{uri}': {problem}"
    if strict and attributes:
        return f"'{uri}': carries data attributes (a query string or fragment)"
    pairs = segments[start + 2 :]
    if len(pairs) % 2:
        return f"'{uri}': a key qualifier without its value"
    given: dict[str, str] = {}
    for i in range(0, len(pairs), 2):
        q = _ALIASES.get(pairs[i], pairs[i])
        q_value = unquote(pairs[i + 1])
        q_format = _QUALIFIERS.get(q)
        if q_format is None or q in given:
            return f"'{uri}': /{pairs[i]}/ is no key qualifier of a {spec.name}"
        q_problem = q_format.problem(q, q_value)
        if q_problem is not None:
            return f"'{uri}': {q_problem}"
        given[q] = q_value
    if not given:
        return Key(ai, value)
    for sequence in spec.qualifiers:
        if given.keys() <= set(sequence):
            return Key(ai, value, tuple((q, given[q]) for q in sequence if q in given))
    return f"'{uri}': /{'/'.join(given)}/ are no key qualifiers of a {spec.name} together"


def parse_link(uri: str, *, strict: bool = True) -> Key | None:
    """The GS1 key of a Digital Link URI on any domain (under a path prefix too, short names
    such as ``/gtin/`` read), or None if it carries none.

    ``strict`` (the twin's identity of things): check digits must be right and the URI may
    carry no query string or fragment (the GRAI's check digit is not checked: published
    examples often carry a wrong one). Not ``strict`` (the event hash): data attributes are
    ignored and check digits not checked, as the hash's reference implementation does."""
    found = _read_link(uri, strict)
    return found if isinstance(found, Key) else None


# --- EPC URIs (GS1 EPC Tag Data Standard) ----------------------------------------------------

# A character of a GS1 AI value in an EPC URI: as itself, or %-escaped (TDS: " % & / < > ?
# must be escaped; any other character of the set may be).
_URN_X = (
    r"(?:[A-Za-z0-9!'()*+,\-.:;=_]"
    r"|%(?:2[125-9A-Fa-f]|3[0-9A-Fa-f]|4[1-9A-Fa-f]|5[0-9AFaf]|6[1-9A-Fa-f]|7[0-9Aa]))"
)
# A character of a CPI's component/part reference: 0-9 A-Z -, with # and / escaped.
_URN_Y = r"(?:[0-9A-Z\-]|%(?:2[3DFdf]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]))"


@dataclass(frozen=True)
class _Scheme:
    """One EPC scheme of the Tag Data Standard: the syntax of the fields after
    ``urn:epc:<kind>:<name>:`` (``cp`` and ``ref`` the company prefix and the digits after it),
    how many digits those two make, and the GS1 key it carries."""

    name: str
    kind: str  # "id" or "class"
    title: str
    pattern: re.Pattern[str]
    digits: int | None  # company prefix + reference, where fixed
    kind_word: str  # the object type when the URI is no valid key
    ai: str | None = None  # the GS1 key (None: not a GS1 scheme)
    serial_limit: int | None = None  # longest serial, for schemes whose last field is one
    class_pattern: re.Pattern[str] | None = None  # the ``idpat`` form naming one class


def _scheme(
    name: str,
    title: str,
    body: str,
    digits: int | None,
    kind_word: str,
    ai: str | None = None,
    *,
    kind: str = "id",
    serial: int | None = None,
    class_body: str | None = None,
) -> _Scheme:
    def compile(text: str) -> re.Pattern[str]:  # X: a serial character, Y: a CPID character
        return re.compile(text.replace("X", _URN_X).replace("Y", _URN_Y))

    return _Scheme(
        name,
        kind,
        title,
        compile(body),
        digits,
        kind_word,
        ai,
        serial,
        compile(class_body) if class_body else None,
    )


_CP = r"(?P<cp>\d+)"
_REF = r"(?P<ref>\d*)"
_SCHEMES: tuple[_Scheme, ...] = (
    _scheme(
        "sgtin",
        "Serialised Global Trade Item Number",
        rf"{_CP}\.{_REF}\.(?P<ser>X{{1,20}})",
        13,
        TRADE_ITEM,
        "01",
        serial=20,
        class_body=rf"{_CP}\.{_REF}\.\*",
    ),
    _scheme("sscc", "Serial Shipping Container Code", rf"{_CP}\.{_REF}", 17, LOGISTIC_UNIT, "00"),
    _scheme(
        "sgln",
        "Global Location Number with or without extension",
        rf"{_CP}\.{_REF}\.(?P<ser>X{{1,20}})",
        12,
        LOCATION,
        "414",
        serial=20,
    ),
    _scheme(
        "grai",
        "Global Returnable Asset Identifier",
        rf"{_CP}\.{_REF}\.(?P<ser>X{{0,16}})",
        12,
        RETURNABLE_ASSET,
        "8003",
        serial=16,
        class_body=rf"{_CP}\.{_REF}\.\*",
    ),
    _scheme(
        "giai",
        "Global Individual Asset Identifier",
        rf"{_CP}\.(?P<ser>X{{1,24}})",
        None,
        ASSET,
        "8004",
    ),
    _scheme(
        "gsrn",
        "Global Service Relation Number – Recipient",
        rf"{_CP}\.{_REF}",
        17,
        SERVICE_RELATION,
        "8018",
    ),
    _scheme(
        "gsrnp",
        "Global Service Relation Number – Provider",
        rf"{_CP}\.{_REF}",
        17,
        SERVICE_RELATION,
        "8017",
    ),
    _scheme(
        "gdti",
        "Global Document Type Identifier",
        rf"{_CP}\.{_REF}\.(?P<ser>X{{0,17}})",
        12,
        DOCUMENT,
        "253",
        serial=17,
        class_body=rf"{_CP}\.{_REF}\.\*",
    ),
    _scheme(
        "cpi",
        "Component / Part Identifier",
        rf"{_CP}\.(?P<part>Y+)\.(?P<ser>\d{{1,12}})",
        None,
        COMPONENT,
        "8010",
        class_body=rf"{_CP}\.(?P<part>Y+)\.\*",
    ),
    _scheme(
        "sgcn",
        "Serialised Global Coupon Number",
        rf"{_CP}\.{_REF}\.(?P<ser>\d{{1,12}})",
        12,
        COUPON,
        "255",
        class_body=rf"{_CP}\.{_REF}\.\*",
    ),
    _scheme(
        "ginc",
        "Global Identification Number for Consignment",
        rf"{_CP}\.(?P<ser>X{{1,24}})",
        None,
        CONSIGNMENT,
        "401",
    ),
    _scheme(
        "gsin", "Global Shipment Identification Number", rf"{_CP}\.{_REF}", 16, SHIPMENT, "402"
    ),
    _scheme(
        "itip",
        "Individual Trade Item Piece",
        rf"{_CP}\.{_REF}\.(?P<piece>\d\d)\.(?P<total>\d\d)\.(?P<ser>X{{1,20}})",
        13,
        TRADE_ITEM_PIECE,
        "8006",
        serial=20,
        class_body=rf"{_CP}\.{_REF}\.(?P<piece>\d\d)\.(?P<total>\d\d)\.\*",
    ),
    _scheme(
        "upui",
        "Unit Pack Identifier",
        rf"{_CP}\.{_REF}\.(?P<ser>X{{1,28}})",
        13,
        TRADE_ITEM,
        "01",
        serial=28,
        class_body=rf"{_CP}\.{_REF}\.\*",
    ),
    _scheme("pgln", "Global Location Number of Party", rf"{_CP}\.{_REF}", 12, PARTY, "417"),
    _scheme("gid", "General Identifier", r"(?P<cp>\d+)\.(?P<ref>\d+)\.\d+", None, ITEM),
    _scheme("usdod", "US Department of Defense identifier", r"[A-Za-z0-9 ]+\.\d+", None, ASSET),
    _scheme("adi", "Aerospace and Defense Identifier", r".+", None, ASSET),
    _scheme("bic", "BIC container code (ISO 6346)", r"[A-Z]{3}[UJZ]\d{7}", None, ASSET),
    _scheme("imovn", "IMO Vessel Number", r"\d{7}", None, ASSET),
    _scheme(
        "lgtin",
        "GTIN with batch/lot",
        rf"{_CP}\.{_REF}\.(?P<ser>X{{1,20}})",
        13,
        PRODUCT_LOT,
        "01",
        kind="class",
        serial=20,
    ),
)
EPC_SCHEMES: dict[str, str] = {f"{s.kind}:{s.name}": s.title for s in _SCHEMES}
"""Every EPC scheme of the Tag Data Standard (``id:sgtin``, ``class:lgtin``…) and its name."""
_BY_PREFIX = {f"urn:epc:{s.kind}:{s.name}:": s for s in _SCHEMES}
_PATTERNS = {s.name: s for s in _SCHEMES if s.kind == "id"} | {"lgtin": _SCHEMES[-1]}


def _gtin(cp: str, ref: str) -> str:
    raw = ref[:1] + cp + ref[1:]
    return raw + check_digit(raw)


def _build(scheme: _Scheme, m: re.Match[str], pattern: bool = False) -> Key | str:
    """The Key of a matched EPC URI body, or what is wrong with it (the digits)."""
    fields = m.groupdict()
    cp = fields.get("cp") or ""
    ref = fields.get("ref") or ""
    if scheme.digits is not None and (
        len(cp) + len(ref) != scheme.digits or not 6 <= len(cp) <= 12
    ):
        return (
            f"company prefix and reference make {len(cp) + len(ref)} digits, the "
            f"'{scheme.name}' scheme needs {scheme.digits} (company prefix 6 to 12)"
        )
    if scheme.ai is not None and not 6 <= len(cp) <= 12:
        return f"the company prefix has {len(cp)} digits, not 6 to 12"
    ser = fields.get("ser")
    ser = unquote(ser) if ser and "%" in ser else ser or ""
    name = scheme.name
    if name == "sgtin":
        return Key("01", _gtin(cp, ref), () if pattern else (("21", ser),))
    if name == "upui":
        return Key("01", _gtin(cp, ref), () if pattern else (("235", ser),))
    if name == "lgtin":
        return Key("01", _gtin(cp, ref), (("10", ser),))
    if name == "itip":
        qualifiers = () if pattern else (("21", ser),)
        return Key("8006", _gtin(cp, ref) + fields["piece"] + fields["total"], qualifiers)
    if name == "sscc":
        return Key("00", _gtin(cp, ref))
    if name in ("gsrn", "gsrnp", "gsin", "pgln"):
        return Key(scheme.ai or "", cp + ref + check_digit(cp + ref))
    if name == "sgln":
        gln = cp + ref + check_digit(cp + ref)
        return Key("414", gln, () if ser == "0" else (("254", ser),))
    if name == "grai":
        grai = "0" + cp + ref
        return Key("8003", grai + check_digit(grai) + ser)
    if name in ("gdti", "sgcn"):
        return Key(scheme.ai or "", cp + ref + check_digit(cp + ref) + ser)
    if name in ("giai", "ginc"):
        if len(cp) + len(ser) > 30:
            return f"the {name.upper()} has {len(cp) + len(ser)} characters, at most 30"
        return Key(scheme.ai or "", cp + ser)
    if name == "cpi":
        part = fields["part"]
        part = unquote(part) if "%" in part else part
        if len(cp) + len(part) > 30:
            return f"the CPID has {len(cp) + len(part)} characters, at most 30"
        return Key("8010", cp + part, () if pattern else (("8011", ser),))
    return f"'{name}' carries no GS1 key"  # pragma: no cover - every GS1 scheme is above


def _scheme_of(urn: str) -> tuple[_Scheme | None, int]:
    """The scheme of ``urn:epc:<kind>:<scheme>:…`` and where its fields start (less one)."""
    kind_end = urn.find(":", 8)
    end = urn.find(":", kind_end + 1) if kind_end > 0 else -1
    return (_BY_PREFIX.get(urn[: end + 1]) if end > 0 else None), end


def _read_epc(urn: str) -> tuple[Key | None, str | None]:
    """An EPC URI as (its GS1 key or None, what is wrong with it or None). A valid URI of a
    non-GS1 scheme (gid, usdod…) or a wider pattern gives (None, None)."""
    scheme, end = _scheme_of(urn)
    if scheme is not None:
        m = scheme.pattern.fullmatch(urn, end + 1)
        if m is None:
            return None, (
                f"'{urn}' does not follow the EPC '{scheme.name}' syntax (GS1 Tag Data Standard)"
            )
        if scheme.ai is None:
            return None, None
        found = _build(scheme, m)
        return (found, None) if isinstance(found, Key) else (None, f"'{urn}': {found}")
    parts = urn.split(":", 4)
    if len(parts) < 5:
        return None, f"'{urn}' is not an EPC URN (urn:epc:id:<scheme>:<fields>)"
    kind, name, body = parts[2], parts[3], parts[4]
    if kind == "idpat":
        target = _PATTERNS.get(name)
        if target is None:
            return None, f"'{urn}': '{name}' is not an EPC scheme"
        if target.class_pattern is not None:
            m = target.class_pattern.fullmatch(body)
            if m is not None:
                found = _build(target, m, pattern=True)
                if isinstance(found, Key):
                    return found, None
        return None, None  # a wider pattern (``cp.*.*``): valid, no single key
    if kind not in ("id", "class"):
        return None, f"'{urn}' is not an EPC pure-identity URN (urn:epc:id:…, urn:epc:class:…)"
    return None, f"'{urn}': '{name}' is not an EPC {'class ' if kind == 'class' else ''}scheme"


def parse_epc(urn: str) -> Key | None:
    """The GS1 key of an EPC URI (``urn:epc:id:…``, ``urn:epc:class:lgtin:…``, or a pattern
    ``urn:epc:idpat:<scheme>:…​.*`` naming one class), or None."""
    return _read_epc(urn)[0]


_URN_SAFE = "!'()*+,-.:;=_"  # what TDS lets stand unescaped in an EPC URI field


def _urn_enc(value: str) -> str:
    if value.isalnum() and value.isascii():
        return value
    return quote(value, safe=_URN_SAFE)


def epc_urn(key: Key | str, company_prefix_length: int) -> str | None:
    """The EPC URI of a GS1 key (a :class:`Key` or a Digital Link URI), given the length of its
    GS1 Company Prefix (6 to 12: the Digital Link does not say it; GS1's prefix list does).
    A key without its serial becomes the pattern of its class (``urn:epc:idpat:sgtin:…​.*``);
    None when the key has no EPC form (a GTIN with a consumer product variant, an ITIP lot)
    or the prefix length does not fit."""
    if isinstance(key, str):
        parsed = parse_link(key) if key.startswith("http") else parse_epc(key)
        if parsed is None:
            return None
        key = parsed
    n = company_prefix_length
    ai, v = key.ai, key.value
    q = dict(key.qualifiers)
    if not 6 <= n <= 12 or "22" in q or "7040" in q or "8019" in q:
        return None
    if ai in ("01", "8006"):
        cp, ref = v[1 : 1 + n], v[0] + v[1 + n : 13]
        if ai == "8006":
            if "10" in q:
                return None
            head = f"{cp}.{ref}.{v[14:16]}.{v[16:18]}"
            if "21" in q:
                return f"urn:epc:id:itip:{head}.{_urn_enc(q['21'])}"
            return f"urn:epc:idpat:itip:{head}.*"
        if "21" in q:
            return f"urn:epc:id:sgtin:{cp}.{ref}.{_urn_enc(q['21'])}"
        if "235" in q:
            return f"urn:epc:id:upui:{cp}.{ref}.{_urn_enc(q['235'])}"
        if "10" in q:
            return f"urn:epc:class:lgtin:{cp}.{ref}.{_urn_enc(q['10'])}"
        return f"urn:epc:idpat:sgtin:{cp}.{ref}.*"
    if ai == "00":
        return f"urn:epc:id:sscc:{v[1 : 1 + n]}.{v[0]}{v[1 + n : 17]}"
    if ai in ("414", "417"):
        cp, ref = v[:n], v[n:12]
        if ai == "417":
            return f"urn:epc:id:pgln:{cp}.{ref}"
        return f"urn:epc:id:sgln:{cp}.{ref}.{_urn_enc(q.get('254', '0'))}"
    if ai in ("8018", "8017", "402"):
        name = {"8018": "gsrn", "8017": "gsrnp", "402": "gsin"}[ai]
        return f"urn:epc:id:{name}:{v[:n]}.{v[n:-1]}"
    if ai in ("8003", "253", "255"):
        start = 1 if ai == "8003" else 0
        cp, ref, ser = v[start : start + n], v[start + n : start + 12], v[start + 13 :]
        name = {"8003": "grai", "253": "gdti", "255": "sgcn"}[ai]
        if not ser:
            return f"urn:epc:idpat:{name}:{cp}.{ref}.*"
        return f"urn:epc:id:{name}:{cp}.{ref}.{_urn_enc(ser)}"
    if ai in ("8004", "401"):
        name = "giai" if ai == "8004" else "ginc"
        if len(v) <= n or not _digits(v[:n]):
            return None
        return f"urn:epc:id:{name}:{v[:n]}.{_urn_enc(v[n:])}"
    # 8010: the CPID, and its serial if any
    if len(v) <= n or not _digits(v[:n]):
        return None
    part = quote(v[n:], safe="-")
    if "8011" in q:
        return f"urn:epc:id:cpi:{v[:n]}.{part}.{q['8011']}"
    return f"urn:epc:idpat:cpi:{v[:n]}.{part}.*"


# --- what is wrong with an identifier (EPCIS validation) -------------------------------------

# Speed: a shipment carries thousands of serials of a few products. Once the part before the
# serial (``urn:epc:id:sgtin:4012345.011111``) has passed, a new serial of it only needs its own
# characters checked: the head, with the longest serial its scheme allows.
_GOOD_HEADS: dict[str, int] = {}
_GOOD_HEADS_MAX = 50_000


def _serial_limit(urn: str) -> tuple[str, int, str] | None:
    """For a valid EPC URI whose last field is a serial of AI-82 characters (with no dot in
    it): (the part before it, the longest serial its scheme allows, the scheme)."""
    scheme, end = _scheme_of(urn)
    if scheme is None or scheme.serial_limit is None:
        return None
    m = scheme.pattern.fullmatch(urn, end + 1)
    head, _, serial = urn.rpartition(".")
    if m is None or m.group("ser") != serial:
        return None
    return head, scheme.serial_limit, scheme.name


def identifier_problem(value: str) -> str | None:
    """What is wrong with an EPC URI or GS1 Digital Link URI, in words, or None.

    Other URIs (a company's own ``https://`` or ``urn:`` identifiers) are not judged here; of a
    Digital Link only the primary key is (its digits and check digit), as data attributes and
    qualifiers are the partner's business."""
    if value.startswith("urn:epc:"):
        head, _, serial = value.rpartition(".")
        limit = _GOOD_HEADS.get(head)
        if limit is not None and 0 < len(serial) <= limit and serial.isalnum() and serial.isascii():
            return None
        problem = _read_epc(value)[1]
        if problem is None:
            found = _serial_limit(value)
            if found is not None:
                if len(_GOOD_HEADS) >= _GOOD_HEADS_MAX:
                    _GOOD_HEADS.clear()
                _GOOD_HEADS[found[0]] = found[1]
        return problem
    if value.startswith(("https://", "http://")):
        return _link_key_problem(value)
    return None


def _link_key_problem(uri: str) -> str | None:
    found = _link_path(uri)
    if found is None:
        return None
    segments = found[0]
    primary = _find_primary(segments)
    if primary is None:
        return None
    start, ai = primary
    spec = _KEYS[ai]
    value = unquote(segments[start + 1])
    if ai == "01" and _digits(value) and len(value) in (8, 12, 13):
        value = value.zfill(14)
    problem = spec.format.problem(ai, value)
    if problem is None and spec.strict_check:
        problem = spec.format.check_problem(value)
    return None if problem is None else f"'{uri}': {problem}"


# --- one name per thing: the twin's identity of objects --------------------------------------

# Speed: a shipment names thousands of serials of a few products. The part of an identifier
# before its serial (``urn:epc:id:sgtin:4012345.011111``) is converted once and remembered with
# its canonical prefix (``https://id.gs1.org/01/04012345111118/21/``) and the longest serial
# its scheme allows; the serial is appended.
_HEADS: dict[str, tuple[str, str | None, int]] = {}
# Every identifier met recently, whole: a pallet's cases are named when they are commissioned,
# again when packed, again when shipped. Both memories are forgotten at once when they grow past
# the limit (a few tens of MB), which costs no more than converting the hot ones again.
_WHOLE: dict[str, tuple[str, str | None]] = {}
_CACHE_LIMIT = 1 << 18

remembered = _WHOLE.get
"""``remembered(text)``: what :func:`identify` gave for ``text`` if it was asked recently,
else ``None`` (one dictionary look-up, for the mapping's inner loops)."""


def _slow(text: str) -> tuple[str, str | None]:
    if text.startswith("urn:epc:"):
        key = parse_epc(text)
        if key is not None:
            return link(key), key_type(key)
        kind, _, tail = text[8:].partition(":")
        if kind == "idpat":
            return text, PRODUCT_CLASS
        scheme = _BY_PREFIX.get(f"urn:epc:{kind}:{tail.partition(':')[0]}:")
        return text, None if scheme is None else scheme.kind_word
    if text.startswith(("https://", "http://")):
        key = parse_link(text)
        if key is not None:
            return link(key), key_type(key)
    return text, None


def _remember_head(
    text: str, converted: str, kind: str | None, heads: dict[str, tuple[str, str | None, int]]
) -> None:
    """If ``text`` is a serial (plain letters and digits) after a head whose conversion ends
    in that serial, remember the head: its next serials are converted by appending."""
    urn = text.startswith("urn:epc:")
    head, _, last = text.rpartition("." if urn else "/")
    if not (last.isalnum() and last.isascii() and converted.endswith(last)):
        return
    limit: int | None = None
    if urn:
        serial = _serial_limit(text)
        # an SGLN's extension "0" means none: its canonical form is no prefix + extension
        if serial is not None and serial[2] != "sgln":
            limit = serial[1]
    elif head.rpartition("/")[2] in ("21", "10") and converted.endswith(f"/{last}"):
        limit = 20
    if limit is not None:
        if len(heads) > _CACHE_LIMIT:
            heads.clear()
        heads[head] = (converted[: len(converted) - len(last)], kind, limit)


def _by_head(
    text: str, heads: dict[str, tuple[str, str | None, int]]
) -> tuple[str, str | None] | None:
    """The conversion of ``text`` from a remembered head, or None."""
    head, _, last = text.rpartition("." if text.startswith("urn:epc:") else "/")
    hit = heads.get(head)
    if hit is not None and last.isalnum() and last.isascii() and len(last) <= hit[2]:
        return hit[0] + last, hit[1]
    return None


def _convert(text: str) -> tuple[str, str | None]:
    found = _by_head(text, _HEADS)
    if found is None:
        found = _slow(text)
        if found[1] is not None:
            _remember_head(text, found[0], found[1], _HEADS)
    return found


def identify(text: str) -> tuple[str, str | None]:
    """An identifier as written → (its canonical form, the type of thing it names).

    The type is ``None`` when the identifier is not a recognised GS1 key (the caller then
    decides from the field it came from: an EPC is an ``item``, a readPoint a ``location``).

    >>> identify("urn:epc:id:sscc:0614141.1234567890")
    ('https://id.gs1.org/00/106141412345678908', 'logistic unit')
    """
    found = _WHOLE.get(text)
    if found is None:
        found = _convert(text)
        if len(_WHOLE) >= _CACHE_LIMIT:
            _WHOLE.clear()
        _WHOLE[text] = found
    return found


def identify_all(texts: Iterable[str]) -> tuple[list[str], list[str | None]]:
    """:func:`identify` for every identifier of a list (an event's EPCs): their canonical forms
    and their types, in order."""
    if type(texts) is list and len(texts) > 2:
        found = _serials(texts)
        if found is not None:
            return found
    known = _WHOLE.get
    pairs = [known(t) or identify(t) for t in texts]
    if not pairs:
        return [], []
    ids, kinds = zip(*pairs, strict=True)
    return list(ids), list(kinds)


def _serials(texts: list[str]) -> tuple[list[str], list[str | None]] | None:
    """The common EPC list: serials of one product (one lot, one asset type…) whose head is
    remembered. Converted with a few whole-list operations instead of one look-up per EPC;
    ``None`` when the list is anything else."""
    first = texts[0]
    if type(first) is not str:
        return None
    sep = "." if first.startswith("urn:epc:") else "/"
    head = first.rpartition(sep)[0]
    hit = _HEADS.get(head)
    if hit is None:
        return None
    cut = len(head) + 1
    lead = head + sep
    try:
        if {t[:cut] for t in texts} != {lead}:
            return None
    except TypeError:  # not all text
        return None
    tails = [t[cut:] for t in texts]
    joined = "".join(tails)
    # as identify: every serial plain ASCII letters and digits (so no further separator)
    if not (all(tails) and joined.isalnum() and joined.isascii()):
        return None
    prefix, kind, limit = hit
    if max(map(len, tails)) > limit:
        return None
    return [prefix + tail for tail in tails], [kind] * len(tails)


def canonical_id(text: str) -> str:
    """The canonical form of an identifier (for matching a query parameter to stored objects)."""
    return identify(text)[0]


# --- patterns: which identifiers a pattern or a product covers ------------------------------

_GTIN_ONLY = re.compile(re.escape(CANONICAL_DOMAIN) + r"/01/\d{14}")


def pattern_regexes(pattern: str) -> list[str] | None:
    """Regular expressions, over canonical ids (:func:`canonical_id`), for the identifiers an
    EPC pure-identity pattern covers — or None if ``pattern`` is no such pattern.

    ``urn:epc:idpat:sgtin:0614141.107346.*`` is every serial of one product;
    ``urn:epc:idpat:sscc:0614141.*`` every pallet of one company; the fields narrow from the
    left (TDS 8.2: once a field is ``*`` every later one is). The identifiers it covers are
    stored as canonical Digital Links when they are GS1 keys (the company prefix's digits
    then sit inside the key, the check digit computed) and as written otherwise: one
    expression matches the URNs kept as written, one the Digital Links of sgtin, sscc, sgln,
    grai and giai patterns."""
    if not pattern.startswith("urn:epc:idpat:"):
        return None
    scheme, _, body = pattern[len("urn:epc:idpat:") :].partition(":")
    fields = body.split(".")
    if not scheme or not body or "*" not in fields:
        return None
    star = [f == "*" for f in fields]
    # once a field is '*' every later field must be (TDS 8.2: patterns narrow from the left)
    if any(star[i] and not star[i + 1] for i in range(len(star) - 1)):
        return None
    out: list[str] = []
    # the URN as written (identifiers kept as written: other schemes, odd digit counts)
    urn = re.escape(f"urn:epc:id:{scheme}:") + r"\.".join(
        "[^.]+" if s else re.escape(f) for f, s in zip(fields, star, strict=True)
    )
    if star[-1]:
        urn = urn[: -len("[^.]+")] + ".+"
    out.append(urn)
    cp = fields[0]
    known = cp.isdigit()
    n = len(cp)
    d = re.escape(CANONICAL_DOMAIN)
    if scheme == "sgtin" and len(fields) == 3:
        if star[0]:
            out.append(d + r"/01/\d{14}/.+")
        elif known and star[1] and n <= 12:
            out.append(d + rf"/01/\d{re.escape(cp)}\d{{{12 - n}}}\d/.+")
        elif known and fields[1].isdigit() and n + len(fields[1]) == 13:
            g = fields[1][0] + cp + fields[1][1:]
            out.append(d + "/01/" + g + check_digit(g) + "/.+")
    elif scheme == "sscc" and len(fields) == 2:
        if star[0]:
            out.append(d + r"/00/\d{18}")
        elif known and n <= 16:
            out.append(d + rf"/00/\d{re.escape(cp)}\d{{{16 - n}}}\d")
    elif scheme == "sgln" and len(fields) == 3:
        if star[0]:
            out.append(d + r"/414/\d{13}(/254/.+)?")
        elif known and star[1] and n <= 12:
            out.append(d + rf"/414/{re.escape(cp)}\d{{{12 - n}}}\d(/254/.+)?")
        elif known and fields[1].isdigit() and n + len(fields[1]) == 12:
            g = cp + fields[1]
            out.append(d + "/414/" + g + check_digit(g) + "(/254/.+)?")
    elif scheme == "grai" and len(fields) == 3:
        if star[0]:
            out.append(d + r"/8003/0\d{13}.*")
        elif known and star[1] and n <= 12:
            out.append(d + rf"/8003/0{re.escape(cp)}\d{{{12 - n}}}\d.*")
        elif known and fields[1].isdigit() and n + len(fields[1]) == 12:
            g = cp + fields[1]
            out.append(d + "/8003/0" + g + check_digit(g) + ".*")
    elif scheme == "giai" and len(fields) == 2:
        out.append(d + (r"/8004/\d.*" if star[0] else "/8004/" + re.escape(cp) + ".+"))
    return out


def instances_regex(canonical: str) -> str | None:
    """A regular expression, over canonical ids, for every instance and lot of a product
    named by its bare GTIN (``https://id.gs1.org/01/<14 digits>``: its serials ``/21/…`` and
    lots ``/10/…``) — None for any other identifier. What a query for a product matches
    besides the product itself."""
    if _GTIN_ONLY.fullmatch(canonical):
        return re.escape(canonical) + "/.+"
    return None
