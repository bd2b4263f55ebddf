"""One name per physical thing: GS1 identifiers in their canonical Digital Link form.

Trading partners write the same pallet in different ways: one as the EPC pure-identity URN
``urn:epc:id:sscc:0614141.1234567890``, the other as the GS1 Digital Link
``https://id.gs1.org/00/106141412345678908``, a third on its own resolver domain
(``https://id.example.com/00/106141412345678908``). For the twin to follow the pallet across
companies these must be *one* object, so every GS1 key is rewritten to the canonical Digital Link
URI of GS1 Digital Link 1.x: domain ``id.gs1.org``, the primary key and its key qualifiers only,
GTINs padded to 14 digits, values percent-encoded the one GS1 way.

Why Digital Link and not the URN: a URN turns into a Digital Link by arithmetic alone (the check
digit is computed), but a Digital Link cannot be turned back into a URN without knowing the length
of the GS1 Company Prefix, which is not written in it. Only the lossless direction is taken.

Anything that is not reliably a GS1 key is kept exactly as written: URNs of other schemes
(``urn:uuid:``, ``urn:epc:id:gid:``…), EPC URNs with the wrong number of digits, Digital Links
whose check digit is wrong, or that carry a query string or fragment (data attributes are not
part of the identity, and dropping them silently would lose what the partner wrote).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, unquote

CANONICAL_DOMAIN = "https://id.gs1.org"
"""The domain of canonical GS1 Digital Link URIs."""

# Object types in a practitioner's words, by GS1 key (Digital Link primary key AI).
TRADE_ITEM = "trade item"
PRODUCT_LOT = "product lot"
PRODUCT_CLASS = "product class"
LOGISTIC_UNIT = "logistic unit"
LOCATION = "location"
PARTY = "party"
RETURNABLE_ASSET = "returnable asset"
ASSET = "asset"
DOCUMENT = "document"
SERVICE_RELATION = "service relation"
COUPON = "coupon"
COMPONENT = "component"
TRADE_ITEM_PIECE = "trade item piece"
CONSIGNMENT = "consignment"
SHIPMENT = "shipment"
ITEM = "item"
"""An identified thing whose scheme is not a GS1 key (``urn:uuid:``, ``gid``, a company URI)."""

# Primary key AI → (its key qualifiers in canonical order, the type of the thing it names).
_PRIMARY: dict[str, tuple[tuple[str, ...], str]] = {
    "01": (("22", "10", "21"), TRADE_ITEM),
    "00": ((), LOGISTIC_UNIT),
    "414": (("254", "7040"), LOCATION),
    "417": (("7040",), PARTY),
    "8003": ((), RETURNABLE_ASSET),
    "8004": (("7040",), ASSET),
    "253": ((), DOCUMENT),
    "255": ((), COUPON),
    "8018": (("8019",), SERVICE_RELATION),
    "8017": (("8019",), SERVICE_RELATION),
    "8006": (("22", "10", "21"), TRADE_ITEM_PIECE),
    "8010": (("8011",), COMPONENT),
    "401": ((), CONSIGNMENT),
    "402": ((), SHIPMENT),
}
# Keys that start with a GS1 check-digited number: AI → its width in digits (check digit last).
_CHECKED: dict[str, int] = {
    "01": 14,
    "00": 18,
    "414": 13,
    "417": 13,
    "8018": 18,
    "8017": 18,
    "402": 17,
    "253": 13,
    "255": 13,
    "8006": 14,
}


def _digits(text: str) -> bool:
    return text.isdigit() and text.isascii()


# EPC URN schemes not rewritten to a Digital Link here: their type still follows the scheme.
_URN_TYPES: dict[str, str] = {
    "id:gsrnp": SERVICE_RELATION,
    "id:cpi": COMPONENT,
    "id:ginc": CONSIGNMENT,
    "id:gsin": SHIPMENT,
    "id:itip": TRADE_ITEM_PIECE,
    "id:upui": TRADE_ITEM,
    "id:gid": ITEM,
    "id:usdod": ASSET,
    "id:adi": ASSET,
    "id:bic": ASSET,
    "id:imovn": ASSET,
    "id:pgln": PARTY,
    "id:sgln": LOCATION,
    "id:sscc": LOGISTIC_UNIT,
    "id:sgtin": TRADE_ITEM,
    "id:grai": RETURNABLE_ASSET,
    "id:giai": ASSET,
    "id:gdti": DOCUMENT,
    "id:sgcn": COUPON,
    "id:gsrn": SERVICE_RELATION,
    "class:lgtin": PRODUCT_LOT,
}


@lru_cache(maxsize=1 << 14)
def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for ``digits`` (the key without its check digit)."""
    total = 0
    weight = 3
    for ch in reversed(digits):
        total += (ord(ch) - 48) * weight
        weight = 4 - weight
    return str((10 - total % 10) % 10)


def _enc(value: str) -> str:
    # GS1 Digital Link: everything but unreserved characters is percent-encoded.
    if value.isalnum() and value.isascii():
        return value
    return quote(value, safe="")


def _unq(value: str) -> str:
    return unquote(value) if "%" in value else value


def _link(primary: str, key: str, qualifiers: list[tuple[str, str]]) -> str:
    text = f"{CANONICAL_DOMAIN}/{primary}/{_enc(key)}"
    for ai, value in qualifiers:
        text += f"/{ai}/{_enc(value)}"
    return text


def _valid_key(ai: str, key: str) -> bool:
    width = _CHECKED.get(ai)
    if width is None:
        return bool(key)
    fixed = key[:width]
    if len(fixed) != width or not _digits(fixed):
        return False
    if ai in ("01", "00", "414", "417", "8018", "8017", "402") and len(key) != width:
        return False
    return check_digit(fixed[:-1]) == fixed[-1]


def _from_urn(text: str) -> tuple[str, str] | None:
    """EPC pure-identity / class / pattern URN → (canonical link, type), or None."""
    # urn:epc:id:sgtin:0614141.107346.2017 → scheme "id:sgtin", fields
    rest = text[8:]  # after "urn:epc:"
    kind, _, tail = rest.partition(":")
    scheme, _, body = tail.partition(":")
    fields = body.split(".")
    if len(fields) > 3 and scheme in ("sgtin", "sgln", "grai", "gdti", "sgcn", "lgtin"):
        fields[2:] = [".".join(fields[2:])]  # a serial may itself contain dots
    if len(fields) < 2 or not _digits(fields[0]):
        return None
    if scheme != "giai" and not _digits(fields[1]):
        return None
    if kind == "id":
        if scheme == "sgtin" and len(fields) == 3 and len(fields[0]) + len(fields[1]) == 13:
            cp, ir, ser = fields
            g = ir[0] + cp + ir[1:]
            return _link("01", g + check_digit(g), [("21", _unq(ser))]), TRADE_ITEM
        if scheme == "sscc" and len(fields) == 2 and len(fields[0]) + len(fields[1]) == 17:
            cp, sr = fields
            s = sr[0] + cp + sr[1:]
            return _link("00", s + check_digit(s), []), LOGISTIC_UNIT
        if scheme in ("sgln", "pgln") and len(fields[0]) + len(fields[1]) == 12:
            g = fields[0] + fields[1]
            g += check_digit(g)
            if scheme == "pgln" and len(fields) == 2:
                return _link("417", g, []), PARTY
            if scheme == "sgln" and len(fields) == 3:
                ext = _unq(fields[2])
                return _link("414", g, [] if ext == "0" else [("254", ext)]), LOCATION
            return None
        if scheme == "grai" and len(fields) == 3 and len(fields[0]) + len(fields[1]) == 12:
            g = fields[0] + fields[1]
            return _link("8003", "0" + g + check_digit(g) + _unq(fields[2]), []), (RETURNABLE_ASSET)
        if scheme == "giai" and len(fields) == 2:
            return _link("8004", fields[0] + _unq(fields[1]), []), ASSET
        if scheme == "gsrn" and len(fields) == 2 and len(fields[0]) + len(fields[1]) == 17:
            g = fields[0] + fields[1]
            return _link("8018", g + check_digit(g), []), SERVICE_RELATION
        if scheme in ("gdti", "sgcn") and len(fields) == 3:
            if len(fields[0]) + len(fields[1]) != 12:
                return None
            g = fields[0] + fields[1]
            ai = "253" if scheme == "gdti" else "255"
            kind_word = DOCUMENT if scheme == "gdti" else COUPON
            return _link(ai, g + check_digit(g) + _unq(fields[2]), []), kind_word
        return None
    if kind == "class" and scheme == "lgtin" and len(fields) == 3:
        if len(fields[0]) + len(fields[1]) != 13:
            return None
        cp, ir, lot = fields
        g = ir[0] + cp + ir[1:]
        return _link("01", g + check_digit(g), [("10", _unq(lot))]), PRODUCT_LOT
    if kind == "idpat" and scheme == "sgtin" and len(fields) == 3 and fields[2] == "*":
        if len(fields[0]) + len(fields[1]) != 13:
            return None
        cp, ir, _ = fields
        g = ir[0] + cp + ir[1:]
        return _link("01", g + check_digit(g), []), PRODUCT_CLASS
    return None


def _from_link(text: str) -> tuple[str, str] | None:
    """Any-domain GS1 Digital Link → (canonical link, type), or None if not reliably one."""
    if "?" in text or "#" in text:
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    segments = rest.split("/")[1:]  # drop the domain
    # A Digital Link may sit under a path prefix: find the primary key from the end's side.
    for start in range(len(segments) - 1):
        ai = segments[start]
        spec = _PRIMARY.get(ai)
        if spec is None:
            continue
        pairs = segments[start + 2 :]
        if len(pairs) % 2:
            continue
        allowed, thing = spec
        key = unquote(segments[start + 1])
        if ai == "01" and key.isdigit() and len(key) in (8, 12, 13):
            key = key.zfill(14)
        if not _valid_key(ai, key):
            return None
        given = {pairs[i]: unquote(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        if len(given) * 2 != len(pairs) or any(q not in allowed for q in given):
            return None
        qualifiers = [(q, given[q]) for q in allowed if q in given]
        if ai in ("01", "8006"):
            if "21" in given:
                thing = TRADE_ITEM if ai == "01" else TRADE_ITEM_PIECE
            elif "10" in given:
                thing = PRODUCT_LOT
            else:
                thing = PRODUCT_CLASS
        return _link(ai, key, qualifiers), thing
    return None


# Speed: a shipment names thousands of serials of a few products. The part of an identifier
# before its serial (``urn:epc:id:sgtin:4012345.011111``) is converted once and remembered with
# its canonical prefix (``https://id.gs1.org/01/04012345111118/21/``); the serial is appended.
_HEADS: dict[str, tuple[str, str]] = {}
# Every identifier met recently, whole: a pallet's cases are named when they are commissioned,
# again when packed, again when shipped. Both memories are forgotten at once when they grow past
# the limit (a few tens of MB), which costs no more than converting the hot ones again.
_WHOLE: dict[str, tuple[str, str | None]] = {}
_CACHE_LIMIT = 1 << 18
_SERIAL_SCHEMES = (
    "urn:epc:id:sgtin:",
    "urn:epc:class:lgtin:",
    "urn:epc:id:grai:",
    "urn:epc:id:gdti:",
    "urn:epc:id:sgcn:",
    "urn:epc:id:giai:",
)

remembered = _WHOLE.get
"""``remembered(text)``: what :func:`identify` gave for ``text`` if it was asked recently,
else ``None`` (one dictionary look-up, for the mapping's inner loops)."""


def _slow(text: str) -> tuple[str, str | None]:
    if text.startswith("urn:epc:"):
        found = _from_urn(text)
        if found is None:
            kind, _, tail = text[8:].partition(":")
            if kind == "idpat":
                return text, PRODUCT_CLASS
            return text, _URN_TYPES.get(f"{kind}:{tail.partition(':')[0]}")
        return found
    if text.startswith(("https://", "http://")):
        found = _from_link(text)
        if found is not None:
            return found
    return text, None


def _convert(text: str) -> tuple[str, str | None]:
    urn = text.startswith("urn:epc:")
    head, _, last = text.rpartition("." if urn else "/")
    hit = _HEADS.get(head)
    safe = last.isalnum() and last.isascii()
    if hit is not None and safe:
        return hit[0] + last, hit[1]
    found = _slow(text)
    canonical, kind = found
    if safe and kind is not None:
        if urn:
            serial = text.startswith(_SERIAL_SCHEMES) and canonical.endswith(last)
        else:
            ai = head.rpartition("/")[2]
            serial = ai in ("21", "10") and canonical.endswith(f"/{ai}/{last}")
        if serial:
            if len(_HEADS) > _CACHE_LIMIT:
                _HEADS.clear()
            _HEADS[head] = (canonical[: len(canonical) - len(last)], kind)
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
    prefix, kind = hit
    return [prefix + tail for tail in tails], [kind] * len(tails)


def canonical_id(text: str) -> str:
    """The canonical form of an identifier (for matching a query parameter to stored objects)."""
    return identify(text)[0]
