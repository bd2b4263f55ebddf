"""The GS1 Core Business Vocabulary (CBV 2.0) and the identifiers EPCIS events carry.

A business step (``shipping``), a disposition (``in_transit``), a business transaction type
(``po``), a source/destination type (``owning_party``), an error reason, a sensor measurement
type (``Temperature``) or alert, a coordinate component: each may be written as the bare CBV
word, as its URN (``urn:epcglobal:cbv:bizstep:shipping``) or as its web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``). A company may also use words of its own, as
long as they are URIs of its own (``https://example.com/my-step``, ``urn:acme:step:kitting``).
What is refused is a bare word the CBV does not have (``transforming``) and a GS1 URI that names
no CBV term — both usually a typing mistake that would silently split a process step in two.

The identifiers (EPC pure-identity URNs such as ``urn:epc:id:sgtin:0614141.107346.2017`` and
GS1 Digital Link URIs such as ``https://id.gs1.org/01/09521141012345/21/2017``) are checked
against the GS1 Tag Data Standard and Digital Link syntax: digit counts and check digits.
The lists come from the GS1 EPCIS 2.0 JSON schema and JSON-LD context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BIZ_STEPS",
    "BIZ_TRANSACTION_TYPES",
    "COMPONENTS",
    "DISPOSITIONS",
    "ERROR_REASONS",
    "MEASUREMENT_TYPES",
    "SENSOR_ALERTS",
    "SOURCE_DEST_TYPES",
    "Vocabulary",
    "identifier_problem",
    "is_absolute_uri",
    "term_problem",
]


@dataclass(frozen=True)
class Vocabulary:
    """One CBV (or GS1 Web Vocabulary) code list and the URI forms its terms take."""

    label: str
    """What the terms are, in words (``business step``)."""
    terms: frozenset[str]
    urn: str | None = None
    """URN prefix of a term (``urn:epcglobal:cbv:bizstep:``)."""
    web: str | None = None
    """Type marker of the web URI under ``https://ref.gs1.org/cbv/`` (``BizStep-``)."""
    gs1_voc: bool = False
    """True for the sensor lists, which live in the GS1 Web Vocabulary (``gs1:Temperature``)."""
    example: str = ""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


BIZ_STEPS = Vocabulary(
    "business step",
    _words(
        "accepting arriving assembling collecting commissioning consigning "
        "creating_class_instance cycle_counting decommissioning departing destroying "
        "disassembling dispensing encoding entering_exiting holding inspecting installing "
        "killing loading other packing picking receiving removing repackaging repairing "
        "replacing reserving retail_selling sampling sensor_reporting shipping "
        "staging_outbound stock_taking stocking storing transporting unloading unpacking "
        "void_shipping"
    ),
    urn="urn:epcglobal:cbv:bizstep:",
    web="BizStep-",
    example="shipping",
)
DISPOSITIONS = Vocabulary(
    "disposition",
    _words(
        "active available completeness_verified completeness_inferred conformant "
        "container_closed container_open damaged destroyed dispensed disposed encoded expired "
        "in_progress in_transit inactive mismatch_instance mismatch_class mismatch_quantity "
        "needs_replacement no_pedigree_match non_conformant non_sellable_other "
        "partially_dispensed recalled reserved retail_sold returned sellable_accessible "
        "sellable_not_accessible stolen unavailable unknown"
    ),
    urn="urn:epcglobal:cbv:disp:",
    web="Disp-",
    example="in_transit",
)
BIZ_TRANSACTION_TYPES = Vocabulary(
    "business transaction type",
    _words("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"),
    urn="urn:epcglobal:cbv:btt:",
    web="BTT-",
    example="po",
)
SOURCE_DEST_TYPES = Vocabulary(
    "source/destination type",
    _words("owning_party possessing_party location"),
    urn="urn:epcglobal:cbv:sdt:",
    web="SDT-",
    example="owning_party",
)
ERROR_REASONS = Vocabulary(
    "error reason",
    _words("did_not_occur incorrect_data"),
    urn="urn:epcglobal:cbv:er:",
    web="ER-",
    example="incorrect_data",
)
COMPONENTS = Vocabulary(
    "coordinate component",
    _words(
        "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle "
        "easting northing latitude longitude altitude"
    ),
    urn="urn:epcglobal:cbv:comp:",
    web="Comp-",
    example="latitude",
)
MEASUREMENT_TYPES = Vocabulary(
    "sensor measurement type",
    _words(
        "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude "
        "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration "
        "AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count "
        "Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity "
        "ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy "
        "Exposure Force Frequency Illuminance Inductance Irradiance KinematicViscosity Length "
        "LinearMomentum Luminance LuminousFlux LuminousIntensity MagneticFlux "
        "MagneticFluxDensity MagneticVectorPotential Mass MassConcentration MassFlowRate "
        "MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume "
        "Power Pressure RadiantFlux RadiantIntensity RelativeHumidity Resistance Resistivity "
        "SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time Torque "
        "Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber "
        # Names from the EPCIS 2.0 drafts (``gs1:MT-Humidity``…) still found in published
        # examples, including the openepcis test documents: accepted so older data loads.
        "Humidity Molar_concentration EffectiveDoseRate"
    ),
    gs1_voc=True,
    example="Temperature",
)
SENSOR_ALERTS = Vocabulary(
    "sensor alert type",
    _words("ALARM_CONDITION ERROR_CONDITION"),
    gs1_voc=True,
    example="ALARM_CONDITION",
)

_CBV_WEB = ("https://ref.gs1.org/cbv/", "http://ref.gs1.org/cbv/", "https://ns.gs1.org/cbv/")
_GS1_VOC = ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://www.gs1.org/voc/")
_WEB_MARKERS = ("BizStep-", "Disp-", "BTT-", "SDT-", "ER-", "Comp-")
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
# The same for the usual characters only: about twice as fast (no Unicode blank lookups).
_PLAIN_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+")


def is_absolute_uri(value: str) -> bool:
    """True for ``scheme:rest`` with no blanks: what EPCIS means by a URI."""
    return _PLAIN_URI.fullmatch(value) is not None or _ABSOLUTE_URI.fullmatch(value) is not None


def _expected(v: Vocabulary) -> str:
    forms = [f"'{v.example}'"]
    if v.urn:
        forms.append(f"'{v.urn}{v.example}'")
    if v.web:
        forms.append(f"'https://ref.gs1.org/cbv/{v.web}{v.example}'")
    if v.gs1_voc:
        forms.append(f"'https://gs1.org/voc/{v.example}'")
    return f"a CBV {v.label} ({', '.join(forms)}) or a URI of your own vocabulary"


def term_problem(
    vocab: Vocabulary, value: str, namespaces: dict[str, str]
) -> tuple[str, str] | None:
    """Why ``value`` is not acceptable as a term of ``vocab``, or None if it is.

    Returns ``(detail, expected)``. A compact URI (``cbv:Comp-latitude``, ``gs1:Angle``) is
    expanded with ``namespaces`` first; under the CBV namespace a CURIE without a CBV type
    marker (``cbv:my_own_party``) is taken as the company's own term, as the openepcis
    reference data does.
    """
    if value in vocab.terms:
        return None
    expected = _expected(vocab)
    if ":" not in value:
        return f"'{value}' is not a CBV 2.0 {vocab.label}", expected
    if value.startswith("urn:epcglobal:cbv:"):
        if vocab.urn and value.startswith(vocab.urn):
            if value[len(vocab.urn) :] in vocab.terms:
                return None
            return f"'{value}' names no CBV 2.0 {vocab.label}", expected
        return f"'{value}' is a CBV URN of another list, not a {vocab.label}", expected
    scheme, _, rest = value.partition(":")
    expanded = value
    curie = False
    if not rest.startswith("//") and scheme in namespaces:
        expanded = namespaces[scheme] + rest
        curie = True
    for base in _CBV_WEB:
        if expanded.startswith(base):
            local = expanded[len(base) :]
            if vocab.web and local.startswith(vocab.web):
                if local[len(vocab.web) :] in vocab.terms:
                    return None
                return f"'{value}' names no CBV 2.0 {vocab.label}", expected
            if curie and not local.startswith(_WEB_MARKERS):
                return None
            return f"'{value}' is a CBV URI but not of a CBV 2.0 {vocab.label}", expected
    if vocab.gs1_voc:
        for base in _GS1_VOC:
            if expanded.startswith(base):
                local = expanded[len(base) :]
                local = local.removeprefix("MT-")
                if local in vocab.terms:
                    return None
                return f"'{value}' names no GS1 {vocab.label}", expected
    if not is_absolute_uri(value):
        return f"'{value}' is neither a CBV term nor a URI", expected
    return None


# --------------------------------------------------------------------------------------------
# identifiers: EPC pure-identity URNs (GS1 TDS 2.0) and GS1 Digital Link URIs

_X = r"(?:[A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})"  # a GS1 AI character in a URN
_D = r"(\d+)"
_EPC_ID: dict[str, tuple[re.Pattern[str], int | None]] = {
    # scheme: (pattern of the part after "urn:epc:id:<scheme>:", digits of the first two fields)
    "sgtin": (re.compile(rf"{_D}\.{_D}\.{_X}{{1,20}}"), 13),
    "sscc": (re.compile(rf"{_D}\.{_D}"), 17),
    "sgln": (re.compile(rf"{_D}\.(\d*)\.{_X}{{1,20}}"), 12),
    "grai": (re.compile(rf"{_D}\.(\d*)\.{_X}{{0,16}}"), 12),
    "giai": (re.compile(rf"{_D}\.({_X}{{1,24}})"), None),
    "gsrn": (re.compile(rf"{_D}\.{_D}"), 17),
    "gsrnp": (re.compile(rf"{_D}\.{_D}"), 17),
    "gdti": (re.compile(rf"{_D}\.(\d*)\.{_X}{{0,17}}"), 12),
    "cpi": (re.compile(r"(\d+)\.((?:[0-9A-Z\-#/]|%2[3DFdf])+)\.\d{1,12}"), None),
    "sgcn": (re.compile(rf"{_D}\.(\d*)\.\d{{1,12}}"), 12),
    "ginc": (re.compile(rf"{_D}\.({_X}{{1,24}})"), None),
    "gsin": (re.compile(rf"{_D}\.{_D}"), 16),
    "itip": (re.compile(rf"{_D}\.{_D}\.\d{{2}}\.\d{{2}}\.{_X}{{1,20}}"), 13),
    "upui": (re.compile(rf"{_D}\.{_D}\.{_X}{{1,28}}"), 13),
    "pgln": (re.compile(rf"{_D}\.(\d*)"), 12),
    "gid": (re.compile(r"(\d+)\.(\d+)\.\d+"), None),
    "usdod": (re.compile(r"[A-Za-z0-9 ]+\.\d+"), None),
    "adi": (re.compile(r".+"), None),
    "bic": (re.compile(r"[A-Z]{3}[UJZ]\d{7}"), None),
    "imovn": (re.compile(r"\d{7}"), None),
}
_EPC_CLASS = {"lgtin": (re.compile(rf"{_D}\.{_D}\.{_X}{{1,20}}"), 13)}

# GS1 Digital Link primary keys: AI -> (digits of the key with check digit, or None if
# alphanumeric; extra characters allowed after it)
_DL_KEYS: dict[str, tuple[int | None, bool]] = {
    "01": (14, False),
    "00": (18, False),
    "414": (13, False),
    "417": (13, False),
    "8018": (18, False),
    "8017": (18, False),
    "402": (17, False),
    "253": (13, True),
    "255": (13, True),
    "8006": (18, True),
    "8003": (14, True),  # '0' + GRAI-13, then the serial
    "8004": (None, True),
    "401": (None, True),
    "8010": (None, True),
}


def _check_digit_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits[:-1])):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10 == int(digits[-1])


def identifier_problem(value: str) -> str | None:
    """What is wrong with an EPC URN or GS1 Digital Link URI, or None.

    Other URIs (a company's own ``https://`` or ``urn:`` identifiers) are not judged here.
    """
    if value.startswith("urn:epc:"):
        return _epc_urn_problem(value)
    if value.startswith(("https://", "http://")):
        return _digital_link_problem(value)
    return None


_FAST_X = r"[A-Za-z0-9!'()*+,\-.:;=_]"  # a serial without %-escapes: the common case


def _full_patterns() -> dict[str, tuple[re.Pattern[str], int | None]]:
    """Per ``urn:epc:<kind>:<scheme>:`` prefix, a pattern for the common case (digit groups
    as groups 1 and 2, serial without %-escapes) and the digits the two groups must make."""
    out: dict[str, tuple[re.Pattern[str], int | None]] = {}
    for kind, table in (("id", _EPC_ID), ("class", _EPC_CLASS)):
        for scheme, (pattern, digits) in table.items():
            prefix = f"urn:epc:{kind}:{scheme}:"
            body = pattern.pattern.replace(_X, _FAST_X)
            out[prefix] = (re.compile(re.escape(prefix) + body), digits)
    return out


_EPC_FAST = _full_patterns()

# Speed: a shipment carries thousands of serials of a few products. Once the part before the
# serial (``urn:epc:id:sgtin:4012345.011111``) has passed, a new serial of it only needs its own
# characters checked. Schemes whose last field is a serial of ``_X`` characters, with its
# longest length (an alphanumeric serial is always within ``_X``, and never empty here).
_SERIAL_LIMIT = {
    "urn:epc:id:sgtin:": 20,
    "urn:epc:id:sgln:": 20,
    "urn:epc:id:grai:": 16,
    "urn:epc:id:gdti:": 17,
    "urn:epc:id:upui:": 28,
    "urn:epc:class:lgtin:": 20,
}
_GOOD_HEADS: dict[str, int] = {}
_GOOD_HEADS_MAX = 50_000


def _epc_urn_problem(value: str) -> str | None:
    head, _, serial = value.rpartition(".")
    limit = _GOOD_HEADS.get(head)
    if limit is not None and 0 < len(serial) <= limit and serial.isalnum() and serial.isascii():
        return None
    end = value.find(":", 11)
    prefix = value[: end + 1]
    fast = _EPC_FAST.get(prefix) if end > 0 else None
    if fast is not None:
        m = fast[0].fullmatch(value)
        if m is not None and (
            fast[1] is None or (m.end(2) - m.start(1) == fast[1] + 1 and m.end(1) - m.start(1) > 5)
        ):
            limit = _SERIAL_LIMIT.get(prefix)
            if limit is not None:
                # the head is everything up to the '.' after the second digit group
                if len(_GOOD_HEADS) >= _GOOD_HEADS_MAX:
                    _GOOD_HEADS.clear()
                _GOOD_HEADS[value[: m.end(2)]] = limit
            return None
    parts = value.split(":", 4)
    if len(parts) < 5:
        return f"'{value}' is not an EPC URN (urn:epc:id:<scheme>:<fields>)"
    kind, scheme, fields = parts[2], parts[3], parts[4]
    if kind == "idpat":
        if scheme in _EPC_ID or scheme in _EPC_CLASS:
            return None
        return f"'{value}': '{scheme}' is not an EPC scheme"
    table = _EPC_ID if kind == "id" else _EPC_CLASS if kind == "class" else None
    if table is None:
        return f"'{value}' is not an EPC pure-identity URN (urn:epc:id:…, urn:epc:class:…)"
    rule = table.get(scheme)
    if rule is None:
        return f"'{value}': '{scheme}' is not an EPC {'class ' if kind == 'class' else ''}scheme"
    pattern, digits = rule
    m = pattern.fullmatch(fields)
    if m is None:
        return f"'{value}' does not follow the EPC '{scheme}' syntax (GS1 Tag Data Standard)"
    if digits is not None:
        n = len(m.group(1)) + len(m.group(2))
        if n != digits or not 6 <= len(m.group(1)) <= 12:
            return (
                f"'{value}': company prefix and reference make {n} digits, "
                f"the '{scheme}' scheme needs {digits} (company prefix 6 to 12)"
            )
    return None


def _digital_link_problem(value: str) -> str | None:
    path = value.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0]
    segments = path.split("/")[1:]
    for i in range(len(segments) - 1):
        rule = _DL_KEYS.get(segments[i])
        if rule is None:
            continue
        ai, key = segments[i], segments[i + 1]
        digits, extra = rule
        if digits is None:
            return None if key else f"'{value}': empty GS1 key after /{ai}/"
        head = key[:digits]
        if ai == "01" and key.isdigit() and len(key) in (8, 12, 13):
            head = key.rjust(14, "0")
        elif ai == "8003":
            # GRAI: '0' + 13 digits + serial; published examples often carry no valid check
            # digit here, so only the digits are checked.
            if len(key) < 14 or not key[:14].isdigit():
                return f"'{value}': a GRAI (AI 8003) starts with 14 digits"
            return None
        elif not extra and len(key) != digits:
            return f"'{value}': the key after /{ai}/ must have {digits} digits"
        if len(head) != digits or not head.isdigit():
            return f"'{value}': the key after /{ai}/ must start with {digits} digits"
        if not _check_digit_ok(head):
            return f"'{value}': wrong GS1 check digit in '{head}'"
        return None
    return None
