"""The EPCIS event hash ID: one fingerprint per event, whoever wrote it and however.

Two partners who capture the same shipment — one in XML with CBV URNs, the other in JSON-LD with
bare CBV words and GS1 Digital Link URIs, keys in another order, times in another offset — must
arrive at the same identifier for the same event, so that a duplicate is recognised, an error
declaration finds the event it corrects, and an event without an ``eventID`` still gets a stable
one. GS1's Core Business Vocabulary 2.0 (section 8.9, the "EPCIS Event Hash ID") defines how: the
event is written out as a *pre-hash string* in a canonical form and the SHA-256 of that string is
named ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920).

The canonical form, as the standard and its reference implementation (RalphTro/
epcis-event-hash-generator, whose published test vectors this module reproduces) write it:

* the fields in a fixed order — ``eventType``, ``eventTime`` (UTC, milliseconds),
  ``eventTimeZoneOffset``, ``certificationInfo``, ``parentID``, the EPC and quantity lists,
  ``action``, ``transformationID``, ``bizStep``, ``disposition``, ``persistentDisposition``,
  ``readPoint``, ``bizLocation``, ``sensorElementList`` — as ``key=value`` without separators;
* then, sorted as whole strings, the business transactions, sources and destinations (each
  ``type=…`` then the identifier), ``ilmd`` and the user extensions (names as ``{namespace}local``);
* identifiers as constrained canonical GS1 Digital Link URIs on ``https://id.gs1.org`` (EPC URNs
  converted, custom domains, query strings and lots under a serial dropped), CBV values as their
  ``https://ref.gs1.org/cbv/…`` web URIs, numbers without trailing zeros, list members sorted;
* ``recordTime``, ``eventID``, ``errorDeclaration`` and JSON-LD comments left out, since a
  repository sets them, not the business step.

Where the reference implementation and the prose of the standard differ, this module follows the
published vectors, except for two places where the reference is plainly an accident of its
parser: a JSON ``true`` is written ``true`` (as XML writes it, not Python's ``True``), and a time
whose fourth decimal is 5 is rounded up as the standard says (the reference rounds half to even).
A business transaction, source or destination is always written ``type`` first, whatever the key
order in the JSON.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

__all__ = ["event_hash_id", "prehash_string"]

Syntax = Literal["json", "xml"]

# ---------------------------------------------------------------------------------------------
# CBV vocabulary: bare words of the JSON binding and the old URNs of the XML binding, both mapped
# to the CBV 2.0 web URIs.

_CBV = "https://ref.gs1.org/cbv/"
_GS1_VOC = "https://gs1.org/voc/"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BIZ_STEPS = _words(
    "accepting arriving assembling collecting commissioning consigning creating_class_instance "
    "cycle_counting decommissioning departing destroying disassembling dispensing encoding "
    "entering_exiting holding inspecting installing killing loading other packing picking "
    "receiving removing repackaging repairing replacing reserving retail_selling sampling "
    "sensor_reporting shipping staging_outbound stock_taking stocking storing transporting "
    "unloading unpacking void_shipping"
)
_DISPOSITIONS = _words(
    "active available completeness_verified completeness_inferred conformant container_closed "
    "container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit "
    "inactive mismatch_instance mismatch_class mismatch_quantity needs_replacement "
    "no_pedigree_match non_conformant non_sellable_other partially_dispensed recalled reserved "
    "retail_sold returned sellable_accessible sellable_not_accessible stolen unavailable "
    "unknown"
)
_BIZ_TRANSACTION_TYPES = _words(
    "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"
)
_SOURCE_DEST_TYPES = frozenset(["owning_party", "possessing_party", "location"])
_MEASUREMENT_TYPES = _words(
    "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude "
    "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum "
    "AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless "
    "DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent "
    "ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance "
    "Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux "
    "LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass "
    "MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy "
    "MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity "
    "Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension "
    "Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux "
    "Wavenumber"
)
_SENSOR_ALERTS = frozenset(["ALARM_CONDITION", "ERROR_CONDITION"])
_COMPONENTS = _words(
    "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting "
    "northing latitude longitude altitude"
)

# (set of bare words, the web URI prefix they expand to)
_Vocab = tuple[frozenset[str], str]
_V_BIZ_STEP: _Vocab = (_BIZ_STEPS, _CBV + "BizStep-")
_V_DISP: _Vocab = (_DISPOSITIONS, _CBV + "Disp-")
_V_BTT: _Vocab = (_BIZ_TRANSACTION_TYPES, _CBV + "BTT-")
_V_SDT: _Vocab = (_SOURCE_DEST_TYPES, _CBV + "SDT-")
_V_MEASUREMENT: _Vocab = (_MEASUREMENT_TYPES, _GS1_VOC)
_V_ALERT: _Vocab = (_SENSOR_ALERTS, _GS1_VOC)
_V_COMPONENT: _Vocab = (_COMPONENTS, _CBV + "Comp-")

_CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)

# CURIE prefixes every EPCIS document may use in values, whatever it declares.
_STANDARD_PREFIXES = {"gs1": _GS1_VOC, "cbv": _CBV, "epcis": "https://ref.gs1.org/epcis/"}

# Fields a repository adds or that describe the document rather than the business step.
_IGNORED_TOP = frozenset(["type", "eventID", "recordTime", "errorDeclaration", "@context"])
_RDFS_COMMENT = "{http://www.w3.org/2000/01/rdf-schema#}comment"


# ---------------------------------------------------------------------------------------------
# Scalar values


@lru_cache(maxsize=1 << 16)
def _canonical_text(text: str) -> str:
    """A value as it appears in the pre-hash string: trimmed, CBV URNs as web URIs, numbers
    without trailing zeros, GS1 identifiers as constrained canonical Digital Link URIs."""
    text = text.strip()
    if not text:
        return text
    if "urn:epcglobal:cbv:" in text:
        for urn, web in _CBV_URNS:
            text = text.replace(urn, web)
    first = text[0]
    if first.isdigit() or first in "+-.":
        number = _canonical_number_text(text)
        if number is not None:
            return number
    if first in "uh" and "." in text:
        link = _digital_link(text)
        if link is not None:
            return link
    return text


_NUMBER_RE = re.compile(
    r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?"
)


def _canonical_number_text(text: str) -> str | None:
    """``25.0`` → ``25``, ``0.50`` → ``0.5``, ``+3`` → ``3``; None if ``text`` is no number.

    The number goes through a binary float, as in the reference implementation, so that XML
    text and JSON numbers meet. The price, which the published vectors fix: a digit string of
    more than 15–17 significant digits is rounded (``111100001111000011110000`` is written
    ``111100001111000003641344``), so two such strings that differ only in their last digits
    give the same hash."""
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    value = float(text)
    if value in (_INF, -_INF):
        return None
    return _canonical_float(value)


_INF = float("inf")


def _canonical_float(value: float) -> str:
    if value != value or value in (_INF, -_INF):
        return repr(value)
    if value == int(value):
        return str(int(value))
    return repr(value)


def _scalar(value: Any, prefixes: Mapping[str, str] | None) -> str:
    """A JSON scalar (or anything else) as canonical text; ``prefixes`` expands CURIEs."""
    if isinstance(value, str):
        if prefixes is not None and ":" in value:
            prefix, _, local = value.partition(":")
            uri = prefixes.get(prefix)
            if uri is not None:
                value = uri + local
        return _canonical_text(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _canonical_float(value)
    return _canonical_text(str(value))


def _vocab_scalar(value: Any, vocab: _Vocab, prefixes: Mapping[str, str] | None) -> str:
    """A CBV-typed value: a bare word of the JSON binding becomes its web URI."""
    if isinstance(value, str):
        word = value.strip()
        if word in vocab[0]:
            return vocab[1] + word
    return _scalar(value, prefixes)


_TIME_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):?(\d\d))?"
)


def _canonical_time(text: str) -> str:
    """An ``xsd:dateTimeStamp`` in UTC with milliseconds: ``2022-02-16T20:33:31.1164-06:00`` →
    ``2022-02-17T02:33:31.116Z``. A 4th decimal of 5–9 rounds the milliseconds up. Text that
    is no timestamp is kept as written (a time without offset is taken as UTC)."""
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        return text.strip()
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    fraction = fraction or ""
    millis = int((fraction + "000")[:3])
    if len(fraction) > 3 and fraction[3] >= "5":
        millis += 1
    if millis < 1000 and second < "60":
        # Offsets are whole minutes: only the date, hour and minute move.
        utc_minute: str | None
        if zulu or sign is None:
            utc_minute = f"{year}-{month}-{day}T{hour}:{minute}"
        else:
            utc_minute = _utc_minute(f"{year}-{month}-{day}T{hour}:{minute}", sign, off_h, off_m)
        if utc_minute is not None:
            return f"{utc_minute}:{second}.{millis:03d}Z"
    moment = _utc(f"{year}-{month}-{day}T{hour}:{minute}:{second}", sign, off_h, off_m)
    if moment is None:
        return text.strip()
    try:
        moment += timedelta(milliseconds=millis)
    except OverflowError:
        return text.strip()
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def _utc(local: str, sign: str | None, off_h: str | None, off_m: str | None) -> datetime | None:
    """``YYYY-MM-DDTHH:MM[:SS]`` at the given offset, as a naive UTC datetime."""
    try:
        moment = datetime.fromisoformat(local)
        if sign is not None and off_h is not None and off_m is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            moment = moment - offset if sign == "+" else moment + offset
    except (ValueError, OverflowError):
        return None
    return moment


@lru_cache(maxsize=4096)
def _utc_minute(local: str, sign: str, off_h: str, off_m: str) -> str | None:
    moment = _utc(local, sign, off_h, off_m)
    if moment is None:
        return None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}"
    )


def _time_scalar(value: Any, prefixes: Mapping[str, str] | None) -> str:
    if isinstance(value, str):
        return _canonical_time(value)
    return _scalar(value, prefixes)


# ---------------------------------------------------------------------------------------------
# GS1 identifiers: EPC URIs and GS1 Digital Link URIs to the constrained canonical Digital Link


def _check_digit(digits: str) -> str:
    """GS1 mod-10 check digit: weights 3, 1, 3… from the right."""
    total = 3 * sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2]))
    return str(-total % 10)


_SERIAL_TOKEN = (
    r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
    r"|[!')(*+,.0-9:;=A-Za-z_-])"
)
_SERIAL = re.compile(_SERIAL_TOKEN + "+")
_SGTIN = re.compile(r"urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.(" + _SERIAL_TOKEN + "{1,20})")
_CPI_TOKEN = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_CPI_REF = re.compile(_CPI_TOKEN + "+")
_DIGITS = re.compile(r"\d+")
_PERCENT = str.maketrans(
    {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
)
_ID = "https://id.gs1.org/"


def _pct(text: str) -> str:
    return text.translate(_PERCENT)


def _is_digits(text: str, length: int | None = None) -> bool:
    if length is not None and len(text) != length:
        return False
    return bool(text) and _DIGITS.fullmatch(text) is not None


def _split_prefix(body: str, total: int | None) -> tuple[str, str, str] | None:
    """``CompanyPrefix.Reference.rest`` with a 6–12 digit company prefix and, when ``total`` is
    given, a reference of ``total - len(prefix)`` digits; None if the body does not fit."""
    cp, dot, rest = body.partition(".")
    if not dot or not 6 <= len(cp) <= 12 or not _is_digits(cp):
        return None
    if total is None:
        return cp, "", rest
    ref_len = total - len(cp)
    ref, tail = rest[:ref_len], rest[ref_len:]
    if (ref and not _is_digits(ref, ref_len)) or len(ref) != ref_len:
        return None
    return cp, ref, tail


@lru_cache(maxsize=4096)
def _gtin(cp: str, item_ref: str) -> str:
    """The GTIN-14 of an EPC company prefix and indicator-plus-item reference."""
    raw = item_ref[:1] + cp + item_ref[1:]
    return raw + _check_digit(raw)


def _serial_ok(serial: str, max_len: int) -> bool:
    """A serial of 1 to ``max_len`` characters (a %-escape counts as one) of GS1 AI 82."""
    return (
        bool(serial)
        and len(serial) - 2 * serial.count("%") <= max_len
        and _SERIAL.fullmatch(serial) is not None
    )


def _epc_id(scheme: str, body: str) -> str | None:
    if scheme in ("sgtin", "upui"):
        parts = _split_prefix(body, 13)
        if parts is None or not parts[2].startswith("."):
            return None
        serial = parts[2][1:]
        if scheme == "sgtin" and _serial_ok(serial, 20):
            return f"{_ID}01/{_gtin(parts[0], parts[1])}/21/{_pct(serial)}"
        if scheme == "upui" and _serial_ok(serial, 28):
            return f"{_ID}01/{_gtin(parts[0], parts[1])}/235/{_pct(serial)}"
        return None
    if scheme in ("sscc", "gsrn", "gsrnp", "gsin"):
        total = 16 if scheme == "gsin" else 17
        parts = _split_prefix(body, total)
        if parts is None or parts[2]:
            return None
        cp, ref = parts[0], parts[1]
        if scheme == "sscc":
            raw = ref[:1] + cp + ref[1:]
            return f"{_ID}00/{raw}{_check_digit(raw)}"
        ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402"}[scheme]
        return f"{_ID}{ai}/{cp}{ref}{_check_digit(cp + ref)}"
    if scheme in ("sgln", "grai", "gdti", "sgcn"):
        parts = _split_prefix(body, 12)
        if parts is None or not parts[2].startswith("."):
            return None
        cp, ref, tail = parts[0], parts[1], parts[2][1:]
        raw = cp + ref
        if scheme == "sgln":
            if not _serial_ok(tail, 20):
                return None
            gln = f"{_ID}414/{raw}{_check_digit(raw)}"
            return gln if tail == "0" else f"{gln}/254/{_pct(tail)}"
        if scheme == "grai":
            if not _serial_ok(tail, 16):
                return None
            raw = "0" + raw
            return f"{_ID}8003/{raw}{_check_digit(raw)}{_pct(tail)}"
        if scheme == "gdti":
            if tail and not _serial_ok(tail, 20):
                return None
            return f"{_ID}253/{raw}{_check_digit(raw)}{_pct(tail)}"
        if not _is_digits(tail) or len(tail) > 12:
            return None
        return f"{_ID}255/{raw}{_check_digit(raw)}{tail}"
    if scheme in ("giai", "ginc"):
        parts = _split_prefix(body, None)
        if parts is None or not _serial_ok(parts[2], 30 - len(parts[0])):
            return None
        ai = "8004" if scheme == "giai" else "401"
        return f"{_ID}{ai}/{parts[0]}{_pct(parts[2])}"
    if scheme == "itip":
        parts = _split_prefix(body, 13)
        if parts is None:
            return None
        piece, count, serial = parts[2][1:3], parts[2][4:6], parts[2][7:]
        if (
            parts[2][:1] != "."
            or parts[2][3:4] != "."
            or parts[2][6:7] != "."
            or not _is_digits(piece, 2)
            or not _is_digits(count, 2)
            or not _serial_ok(serial, 20)
        ):
            return None
        return f"{_ID}8006/{_gtin(parts[0], parts[1])}{piece}{count}/21/{_pct(serial)}"
    if scheme == "cpi":
        parts = _split_prefix(body, None)
        if parts is None:
            return None
        ref, dot, serial = parts[2].rpartition(".")
        if not dot or _CPI_REF.fullmatch(ref) is None or not _is_digits(serial) or len(serial) > 12:
            return None
        return f"{_ID}8010/{_pct(parts[0] + ref)}/8011/{serial}"
    if scheme == "pgln":
        parts = _split_prefix(body, 12)
        if parts is None or parts[2]:
            return None
        raw = parts[0] + parts[1]
        return f"{_ID}417/{raw}{_check_digit(raw)}"
    return None


def _epc_pattern(scheme: str, body: str) -> str | None:
    if not body.endswith(".*"):
        return None
    body = body[:-2]
    if scheme in ("sgtin", "upui"):
        parts = _split_prefix(body, 13)
        if parts is None or parts[2]:
            return None
        return f"{_ID}01/{_gtin(parts[0], parts[1])}"
    if scheme == "itip":
        parts = _split_prefix(body, 13)
        if parts is None or len(parts[2]) != 6 or parts[2][0] != "." or parts[2][3] != ".":
            return None
        piece, total = parts[2][1:3], parts[2][4:6]
        if not _is_digits(piece + total):
            return None
        return f"{_ID}8006/{_gtin(parts[0], parts[1])}{piece}{total}"
    if scheme in ("grai", "gdti", "sgcn"):
        parts = _split_prefix(body, 12)
        if parts is None or parts[2]:
            return None
        raw = parts[0] + parts[1]
        if scheme == "grai":
            raw = "0" + raw
        ai = {"grai": "8003", "gdti": "253", "sgcn": "255"}[scheme]
        return f"{_ID}{ai}/{raw}{_check_digit(raw)}"
    if scheme == "cpi":
        parts = _split_prefix(body, None)
        if parts is None or _CPI_REF.fullmatch(parts[2]) is None:
            return None
        return f"{_ID}8010/{_pct(parts[0] + parts[2])}"
    return None


def _epc_class(scheme: str, body: str) -> str | None:
    if scheme != "lgtin":
        return None
    parts = _split_prefix(body, 13)
    if parts is None or not parts[2].startswith(".") or not _serial_ok(parts[2][1:], 20):
        return None
    return f"{_ID}01/{_gtin(parts[0], parts[1])}/10/{_pct(parts[2][1:])}"


_DL_KEYS = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    "|401|ginc|402|gsin|8003|grai|8004|giai"
)
_DL_CANDIDATE = re.compile(r"https?:(?://[^/?#]*)?[^?#]*/(?:" + _DL_KEYS + r")/\d{4}[^/]+")
_DL_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
_DL_ON_ID = re.compile(
    r"https://id\.gs1\.org/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/\d{4}"
)
_DL_REBASE_ORDER = (
    "/00/",
    "/01/",
    "/253/",
    "/255/",
    "/401/",
    "/402/",
    "/414/",
    "/417/",
    "/8003/",
    "/8004/",
    "/8006/",
    "/8010/",
    "/8017/",
    "/8018/",
)
_X = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_DL_CPV = re.compile(
    r"(https://id\.gs1\.org/(?:8006/\d{18}|01/\d{14}))/22/[\x2F" + _X[1:] + "{0,20}"
)
_DL_LOT_AND_SERIAL = re.compile(
    r"(https://id\.gs1\.org/(?:8006/\d{18}|01/\d{14}))/10/" + _X + "{0,20}(/21/" + _X + "{0,20})"
)
_DL_VALID = re.compile(
    r"https://id\.gs1\.org/(?:"
    r"00/\d{18}"
    r"|01/\d{14}(?:/21/" + _X + r"{0,20}|/10/" + _X + r"{0,20}|/235/" + _X + r"{0,28})?"
    r"|253/\d{13}" + _X + r"{0,17}"
    r"|255/\d{13}\d{0,12}"
    r"|401/" + _X + r"{0,30}"
    r"|402/\d{17}"
    r"|414/\d{13}(?:/254/" + _X + r"{0,20})?"
    r"|417/\d{13}"
    r"|8003/\d{14}" + _X + r"{0,16}"
    r"|8004/" + _X + r"{0,30}"
    r"|8006/\d{18}(?:/21/" + _X + r"{0,20}|/10/" + _X + r"{0,20})?"
    r"|8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}(?:/8011/\d{0,12})?"
    r"|8017/\d{18}"
    r"|8018/\d{18}"
    r")"
)
_GTIN_DIGITS = re.compile(r"https://id\.gs1\.org/01/(\d+)")


def _digital_link(uri: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI for an EPC URI or a GS1 Digital Link URI,
    or None when ``uri`` carries no GS1 key this algorithm knows."""
    if uri.startswith("urn:epc:id:sgtin:"):  # by far the most common: a serialised item
        sgtin = _SGTIN.fullmatch(uri)
        if sgtin is not None and len(sgtin.group(1)) + len(sgtin.group(2)) == 13:
            cp, ref, serial = sgtin.groups()
            return f"{_ID}01/{_gtin(cp, ref)}/21/{_pct(serial)}"
    if uri.startswith("urn:epc:"):
        kind, _, rest = uri[8:].partition(":")
        scheme, _, body = rest.partition(":")
        if kind == "id":
            return _epc_id(scheme, body)
        if kind == "idpat":
            return _epc_pattern(scheme, body)
        if kind == "class":
            return _epc_class(scheme, body)
        return None
    if not uri.startswith("http") or _DL_CANDIDATE.match(uri) is None:
        return None
    uri = uri.partition("?")[0]
    for short, ai in _DL_SHORT_NAMES:
        if short in uri:
            uri = uri.replace(short, ai)
    if _DL_ON_ID.match(uri) is None:
        for key in _DL_REBASE_ORDER:
            at = uri.find(key)
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    gtin = _GTIN_DIGITS.match(uri)
    if gtin is not None and len(gtin.group(1)) < 14:
        n = len(gtin.group(1))
        pad = {13: "0", 12: "00"}.get(n, "000000" if n >= 8 else "")
        uri = uri[:22] + pad + uri[22:]
    cpv = _DL_CPV.fullmatch(uri)
    if cpv is not None:
        after = uri[cpv.end(1) + 4 :]
        uri = cpv.group(1) + (after[after.find("/") :] if "/" in after else "")
    lot = _DL_LOT_AND_SERIAL.fullmatch(uri)
    if lot is not None:
        uri = lot.group(1) + lot.group(2)
    return uri if _DL_VALID.fullmatch(uri) is not None else None


# ---------------------------------------------------------------------------------------------
# The event


class _Writer:
    """Writes one event's pre-hash string; holds the document's namespaces."""

    __slots__ = ("ignore", "json", "names", "prefixes")

    def __init__(
        self, namespaces: Mapping[str, str], syntax: Syntax, ignore: Collection[str]
    ) -> None:
        self.names = namespaces
        self.json = syntax == "json"
        if self.json:
            # JSON-LD: a ``prefix:local`` value is a compact IRI of the document's @context.
            self.prefixes: dict[str, str] = {**namespaces, **_STANDARD_PREFIXES}
        else:
            # XML: a value is a URI in its own right; only the GS1 shorthands are expanded.
            self.prefixes = {"gs1": _GS1_VOC, "cbv": _CBV}
        self.ignore = frozenset(self.name(n) for n in ignore) if ignore else frozenset()

    def name(self, key: str) -> str:
        """``prefix:local`` → ``{namespace}local`` where the prefix is declared."""
        if ":" in key:
            prefix, _, local = key.partition(":")
            uri = self.names.get(prefix)
            if uri is not None:
                return "{" + uri + "}" + local
        return key

    @staticmethod
    def skip(key: str, name: str) -> bool:
        """JSON-LD comments and the ``#text`` of an element with attributes are no members."""
        return key in ("#text", "comment", "rdfs:comment") or name == _RDFS_COMMENT

    # -- generic members (extensions, ilmd, anything unknown) -----------------------------------

    def generic(self, name: str, value: Any, out: list[str]) -> None:
        """Append the strings of member ``name``: ``name=value`` or ``name`` followed by its
        sorted children; a JSON array stands for the element repeated."""
        if isinstance(value, list):
            if name.endswith("List") and self.json:
                # A JSON array under ``…List`` stands for the list element whose members
                # were written as elements named without ``List`` (``epcList`` → ``epc``).
                inner: list[str] = []
                for item in value:
                    self.generic(name[:-4], item, inner)
                if inner:
                    inner.sort()
                    out.append(name + "".join(inner))
                return
            for item in value:
                self.generic(name, item, out)
        elif isinstance(value, dict):
            children: list[str] = []
            for key, child in value.items():
                child_name = self.name(key)
                if not self.skip(key, child_name):
                    self.generic(child_name, child, children)
            children.sort()
            text = self.value(value.get("#text"))
            out.append(name + ("=" + text if text else "") + "".join(children))
        else:
            text = self.value(value)
            out.append(name + "=" + text if text else name)

    def value(self, value: Any) -> str:
        return _scalar(value, self.prefixes)

    def text(self, value: str) -> str:
        """A text value: a declared CURIE expanded, then canonical."""
        prefix, colon, local = value.partition(":")
        if colon:
            uri = self.prefixes.get(prefix)
            if uri is not None:
                value = uri + local
        return _canonical_text(value)

    # -- standard structures -----------------------------------------------------------------

    def structure(
        self,
        value: Any,
        fields: tuple[tuple[str, Any], ...],
        leftovers: list[str],
    ) -> str:
        """A standard member with a fixed field order and an extension point (readPoint,
        quantityElement, sensorMetadata…): its fields in order, then its extensions sorted.
        Members it does not know are handed back in ``leftovers`` to be written at the end."""
        if not isinstance(value, dict):
            return ""
        parts: list[str] = []
        extensions: list[str] = []
        unknown: list[str] = []
        known = _field_names(fields)
        count = 0
        for key, child in value.items():
            if key in known:
                count += len(child) if type(child) is list else 1
                continue
            name = self.name(key)
            if self.skip(key, name):
                continue
            count += len(child) if type(child) is list else 1
            if name in known:
                continue
            if name.startswith("{") and "/}" in name:
                self.generic(name, child, extensions)
            else:
                self.generic(name, child, unknown)
        for name, kind in fields:
            if name in value:
                self.field(name, value[name], kind, parts, leftovers)
        if extensions:
            extensions.sort()
            if count > 1:
                parts.extend(extensions)
            else:  # the reference leaves a lone extension in place, to be written at the end
                unknown.extend(extensions)
        leftovers.extend(unknown)
        return "".join(parts)

    def field(self, name: str, value: Any, kind: Any, parts: list[str], lefts: list[str]) -> None:
        """Write field ``name`` of the given kind into ``parts``; see ``_EVENT_ORDER``."""
        if type(value) is str and (kind is None or kind == "time" or type(kind[0]) is frozenset):
            # the common case, one text value, without the list machinery
            if kind is None:
                text = self.text(value)
            elif kind == "time":
                text = _canonical_time(value)
            else:
                word = value.strip()
                text = kind[1] + word if word in kind[0] else self.text(value)
            if text:
                parts.append(name + "=" + text)
        elif kind == "time":
            values = value if isinstance(value, list) else [value]
            texts = sorted(_time_scalar(v, self.prefixes) for v in values)
            parts.extend(name + "=" + t for t in texts if t)
        elif kind is None or (isinstance(kind, tuple) and isinstance(kind[0], frozenset)):
            values = value if isinstance(value, list) else [value]
            if kind is None:
                texts = sorted(self.value(v) for v in values)
            else:
                texts = sorted(_vocab_scalar(v, kind, self.prefixes) for v in values)
            parts.extend(name + "=" + t for t in texts if t)
        elif kind == "epcs":
            if isinstance(value, list):
                epcs = [self.text(v) if type(v) is str else self.value(v) for v in value]
                epcs.sort()
                body = "".join(["epc=" + e for e in epcs if e])
                if body:
                    parts.append(name + body)
        elif isinstance(kind, list):  # a list of structures: (element name, element fields)
            element, fields = kind
            rendered: list[str] = []
            element_lefts: list[str] = []
            for item in value if isinstance(value, list) else [value]:
                item_lefts: list[str] = []
                body = self.structure(item, fields, item_lefts)
                if body:
                    rendered.append(element + body)
                if item_lefts:
                    item_lefts.sort()
                    element_lefts.append(element + "".join(item_lefts))
            rendered.sort()
            element_lefts.sort()
            if element == name:  # repeated member without a list wrapper (sensorReport)
                parts.extend(rendered)
                lefts.extend(element_lefts)
            else:
                if rendered:
                    parts.append(name + "".join(rendered))
                if element_lefts:
                    lefts.append(name + "".join(element_lefts))
        else:  # a single structure
            own_lefts: list[str] = []
            body = self.structure(value, kind, own_lefts)
            if body:
                parts.append(name + body)
            if own_lefts:
                own_lefts.sort()
                lefts.append(name + "".join(own_lefts))

    def typed_list(self, name: str, value: Any, member: str, vocab: _Vocab) -> str:
        """bizTransactionList, sourceList, destinationList: ``type=…`` then the identifier for
        each entry, entries sorted."""
        entries: list[str] = []
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                continue
            text = ""
            if "type" in item:
                kind = _vocab_scalar(item["type"], vocab, self.prefixes)
                if kind:
                    text = "type=" + kind
            if member in item:
                ident = self.value(item[member])
                if ident:
                    text += member + "=" + ident
            if text:
                entries.append(text)
        entries.sort()
        return name + "".join(entries) if entries else ""

    def event(self, event: Mapping[str, Any]) -> str:
        namespaces = event.get("@context")
        if isinstance(namespaces, list | dict):
            self.adopt_context(namespaces)
        if self.ignore:  # members the repository keeps out, at the event's top level only
            event = {k: v for k, v in event.items() if self.name(k) not in self.ignore}
        parts = ["eventType=" + str(event.get("type", ""))]
        tail: list[str] = []
        for name, kind in _EVENT_ORDER:
            if name in event:
                self.field(name, event[name], kind, parts, tail)
        for key, value in event.items():
            if key in _KNOWN_TOP or key in _IGNORED_TOP:
                continue
            name = self.name(key)
            if self.skip(key, name):
                continue
            if key in _TYPED_LISTS:
                member, vocab = _TYPED_LISTS[key]
                text = self.typed_list(key, value, member, vocab)
                if text:
                    tail.append(text)
            else:
                self.generic(name, value, tail)
        tail.sort()
        return "".join(parts) + "".join(tail)

    def adopt_context(self, context: list[Any] | dict[str, Any]) -> None:
        """An event may carry its own JSON-LD ``@context`` with more prefixes."""
        extra: dict[str, str] = {}
        for entry in context if isinstance(context, list) else [context]:
            if isinstance(entry, dict):
                extra.update({k: v for k, v in entry.items() if isinstance(v, str)})
        if extra:
            self.names = {**self.names, **extra}
            self.prefixes = {**extra, **self.prefixes}


_QUANTITY: tuple[tuple[str, Any], ...] = (("epcClass", None), ("quantity", None), ("uom", None))
_SENSOR_METADATA: tuple[tuple[str, Any], ...] = (
    ("time", "time"),
    ("startTime", "time"),
    ("endTime", "time"),
    ("deviceID", None),
    ("deviceMetadata", None),
    ("rawData", None),
    ("dataProcessingMethod", None),
    ("bizRules", None),
)
_SENSOR_REPORT: tuple[tuple[str, Any], ...] = (
    ("type", _V_MEASUREMENT),
    ("exception", _V_ALERT),
    ("deviceID", None),
    ("deviceMetadata", None),
    ("rawData", None),
    ("dataProcessingMethod", None),
    ("time", "time"),
    ("microorganism", None),
    ("chemicalSubstance", None),
    ("value", None),
    ("component", _V_COMPONENT),
    ("stringValue", None),
    ("booleanValue", None),
    ("hexBinaryValue", None),
    ("uriValue", None),
    ("minValue", None),
    ("maxValue", None),
    ("meanValue", None),
    ("sDev", None),
    ("percRank", None),
    ("percValue", None),
    ("uom", None),
    ("coordinateReferenceSystem", None),
)
_SENSOR_ELEMENT: tuple[tuple[str, Any], ...] = (
    ("sensorMetadata", _SENSOR_METADATA),
    ("sensorReport", ["sensorReport", _SENSOR_REPORT]),
)

# The canonical property order. A kind is: None (plain value), "time", a vocabulary, "epcs" (a
# list of identifiers written ``epc=…``), a tuple of fields (one structure) or
# [element name, fields] (a list of structures).
_EVENT_ORDER: tuple[tuple[str, Any], ...] = (
    ("eventTime", "time"),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", "epcs"),
    ("inputEPCList", "epcs"),
    ("childEPCs", "epcs"),
    ("quantityList", ["quantityElement", _QUANTITY]),
    ("childQuantityList", ["quantityElement", _QUANTITY]),
    ("inputQuantityList", ["quantityElement", _QUANTITY]),
    ("outputEPCList", "epcs"),
    ("outputQuantityList", ["quantityElement", _QUANTITY]),
    ("action", None),
    ("transformationID", None),
    ("bizStep", _V_BIZ_STEP),
    ("disposition", _V_DISP),
    ("persistentDisposition", (("set", _V_DISP), ("unset", _V_DISP))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    ("sensorElementList", ["sensorElement", _SENSOR_ELEMENT]),
)
_KNOWN_TOP = frozenset(name for name, _ in _EVENT_ORDER)
_FIELD_NAMES: dict[int, frozenset[str]] = {}


def _field_names(fields: tuple[tuple[str, Any], ...]) -> frozenset[str]:
    """The member names of a structure (cached: the structures are module constants)."""
    names = _FIELD_NAMES.get(id(fields))
    if names is None:
        names = _FIELD_NAMES[id(fields)] = frozenset(name for name, _ in fields)
    return names


_TYPED_LISTS: dict[str, tuple[str, _Vocab]] = {
    "bizTransactionList": ("bizTransaction", _V_BTT),
    "sourceList": ("source", _V_SDT),
    "destinationList": ("destination", _V_SDT),
}


def prehash_string(
    event: Mapping[str, Any],
    namespaces: Mapping[str, str],
    *,
    syntax: Syntax = "json",
    ignore_fields: Collection[str] = (),
) -> str:
    """The canonical pre-hash string of one EPCIS event (CBV 2.0 section 8.9).

    ``event`` is in the EPCIS 2.0 JSON binding form; ``namespaces`` maps the document's prefixes
    to namespace URIs (the JSON-LD ``@context`` or the XML ``xmlns`` declarations), so that a
    user extension ``example:temperatureLog`` is written ``{https://ns.example.com/}
    temperatureLog``. ``syntax`` says where the event came from: in JSON-LD a ``prefix:local``
    *value* is a compact IRI and is expanded; in XML it is a URI of its own and is kept, except
    for the ``gs1:`` and ``cbv:`` shorthands. ``ignore_fields`` names further members a
    repository keeps out of the hash (``prefix:local`` or ``{namespace}local``).
    """
    return _Writer(namespaces, syntax, ignore_fields).event(event)


def event_hash_id(
    event: Mapping[str, Any],
    namespaces: Mapping[str, str],
    *,
    syntax: Syntax = "json",
    ignore_fields: Collection[str] = (),
) -> str:
    """The EPCIS event hash ID, ``ni:///sha-256;<64 hex digits>?ver=CBV2.0``: the same for the
    same business event however it was serialised, different as soon as any business fact in it
    differs. Arguments as for :func:`prehash_string`."""
    text = prehash_string(event, namespaces, syntax=syntax, ignore_fields=ignore_fields)
    return "ni:///sha-256;" + hashlib.sha256(text.encode("utf-8")).hexdigest() + "?ver=CBV2.0"
