"""The GS1 Core Business Vocabulary (CBV 2.0): the words EPCIS events are written in.

EPCIS says *what happened* with a small set of fields, and the CBV gives each field its words:
the **business step** (``bizStep``: ``receiving``, ``packing``, ``shipping``…), the
**disposition** (``disposition``: the state the objects are left in — ``in_progress``,
``in_transit``, ``sellable_accessible``…), the **business transaction type** (``po``,
``desadv``, ``inv``…), the **source/destination type** (``owning_party``,
``possessing_party``, ``location``), the **error reason** of an error declaration
(``did_not_occur``, ``incorrect_data``), and, from the GS1 Web Vocabulary, the **sensor
measurement types** (``Temperature``…), **sensor alerts** and **coordinate components**.

Each CBV term has three spellings, all meaning the same thing (CBV 2.0 section 6/7):

* the bare word of the EPCIS 2.0 JSON-LD binding: ``shipping``;
* the EPCglobal URN that XML documents and EPCIS 1.x write: ``urn:epcglobal:cbv:bizstep:shipping``;
* the GS1 web URI (``https://ref.gs1.org/cbv/BizStep-shipping``), or its compact form
  ``cbv:BizStep-shipping`` under the ``cbv`` prefix of the EPCIS JSON-LD context.

A company may add words of its own as URIs of its own (``https://example.com/my-step``,
``urn:acme:step:kitting``). A bare word the CBV does not have (``transforming``), or a GS1 URI
that names no CBV term, is refused: usually a typing mistake that would silently split a
process step in two (:func:`term_problem`).

This module also holds the other fixed words of EPCIS the twin reads and writes: the five
event types and three actions, the namespaces the EPCIS JSON-LD context defines, and the OCEL
qualifiers under which the EPCIS → OCEL mapping (``docs/formats/epcis.md``) records the
relations of an event to its objects (``epc``, ``parent``, ``readPoint``…) and of objects to
each other (``contains``, ``derived from``…) — so the mapping, the validator, the hash, the
query, the policy, the renderer and the analytics all read one list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "ACTIONS",
    "ASSOCIATED_WITH",
    "BIZ_LOCATION",
    "BIZ_STEPS",
    "BIZ_TRANSACTION",
    "BIZ_TRANSACTION_TYPES",
    "BT_URN",
    "CBVMDA_URN",
    "CBV_URN",
    "CBV_WEB",
    "CBV_WEB_BASES",
    "CHILD",
    "COMPONENTS",
    "CONTAINMENT_ROLES",
    "CONTAINS",
    "CONTEXT_PREFIXES",
    "DERIVED_FROM",
    "DESTINATION",
    "DISPOSITIONS",
    "EPC",
    "EPCIS_NS",
    "ERROR_REASONS",
    "EVENT_TYPES",
    "GOODS_ROLES",
    "GS1_VOC",
    "GS1_VOC_BASES",
    "INPUT",
    "MDA_SITE",
    "MEASUREMENT_TYPES",
    "OUTPUT",
    "PARENT",
    "PLACE_ROLES",
    "PLAIN_URI",
    "READ_POINT",
    "SENSOR",
    "SENSOR_ALERTS",
    "SOURCE",
    "SOURCE_DEST_TYPES",
    "STANDARD_PREFIXES",
    "STANDARD_QUALIFIERS",
    "TRANSFORMATION_ID",
    "VOCABULARIES",
    "VTYPE_URN",
    "WHAT_ROLES",
    "Vocabulary",
    "is_absolute_uri",
    "short_name",
    "term_problem",
]

# --- where the words live ------------------------------------------------------------------

CBV_URN = "urn:epcglobal:cbv:"
"""The EPCglobal URN namespace of CBV terms (``urn:epcglobal:cbv:bizstep:shipping``)."""
CBV_WEB = "https://ref.gs1.org/cbv/"
"""The GS1 web namespace of CBV 2.0 terms (``https://ref.gs1.org/cbv/BizStep-shipping``)."""
CBV_WEB_BASES = (CBV_WEB, "http://ref.gs1.org/cbv/", "https://ns.gs1.org/cbv/")
"""``CBV_WEB`` and the spellings of it found in published data."""
GS1_VOC = "https://gs1.org/voc/"
"""The GS1 Web Vocabulary, home of the sensor measurement types (``gs1:Temperature``)."""
GS1_VOC_BASES = (GS1_VOC, "http://gs1.org/voc/", "https://www.gs1.org/voc/")
EPCIS_NS = "https://ref.gs1.org/epcis/"
CBVMDA_URN = "urn:epcglobal:cbv:mda:"
"""The namespace of CBV master data attributes (``cbvmda:lotNumber`` in ILMD)."""
MDA_SITE = CBVMDA_URN + "site"
"""The master data attribute of a sub-site naming the site it belongs to (CBV 2.0 §10)."""
VTYPE_URN = "urn:epcglobal:epcis:vtype:"
"""The namespace of EPCIS's standard vocabulary types (``…:vtype:BusinessLocation``)."""
BT_URN = "urn:epcglobal:cbv:bt:"
"""CBV business transaction identifiers: ``urn:epcglobal:cbv:bt:<GLN of the issuer>:<id>``
(a purchase order, a despatch advice… named by the party that issued it)."""

CONTEXT_PREFIXES: dict[str, str] = {
    "epcis": EPCIS_NS,
    "cbv": CBV_WEB,
    "cbvmda": CBVMDA_URN,
    "gs1": GS1_VOC,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}
"""The prefixes the GS1 EPCIS 2.0 JSON-LD context defines; a document that references that
context may use them without declaring them."""
STANDARD_PREFIXES: dict[str, str] = {
    **CONTEXT_PREFIXES,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
"""Prefixes whose meaning the EPCIS standard fixes (its JSON-LD context, and XML's own): they
need not travel with an event."""


# --- the code lists --------------------------------------------------------------------------


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
    spellings: tuple[str, ...] = field(init=False)
    """Every prefix a term of this list may be written behind, besides the bare word: the URN,
    the web URI (and its variants), the ``cbv:`` / ``gs1:`` compact form."""
    uri_prefix: str = field(init=False)
    """What a bare word is put behind to make its one web URI (the event hash writes that)."""

    def __post_init__(self) -> None:
        spellings: list[str] = []
        if self.urn:
            spellings.append(self.urn)
        if self.web:
            spellings += [base + self.web for base in CBV_WEB_BASES]
            spellings.append("cbv:" + self.web)
        if self.gs1_voc:
            spellings += [*GS1_VOC_BASES, "gs1:"]
        object.__setattr__(self, "spellings", tuple(spellings))
        uri = GS1_VOC if self.gs1_voc else CBV_WEB + (self.web or "")
        object.__setattr__(self, "uri_prefix", uri)

    def word(self, value: str) -> str:
        """The bare word of a term in any of its spellings (``shipping``); a company's own URI
        as written."""
        return short_name(value, self.spellings)


def short_name(value: str, prefixes: tuple[str, ...]) -> str:
    """``value`` without the first of ``prefixes`` it starts with (a CBV value's bare word,
    whichever of its spellings was used); as written if none."""
    for p in prefixes:
        if value.startswith(p):
            return value[len(p) :]
    return value


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
VOCABULARIES = (
    BIZ_STEPS,
    DISPOSITIONS,
    BIZ_TRANSACTION_TYPES,
    SOURCE_DEST_TYPES,
    ERROR_REASONS,
    COMPONENTS,
    MEASUREMENT_TYPES,
    SENSOR_ALERTS,
)
"""Every code list above."""

# --- EPCIS's own fixed words -------------------------------------------------------------------

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
"""The five EPCIS 2.0 event types."""
ACTIONS = ("ADD", "OBSERVE", "DELETE")
"""What an event did to its objects' lifecycle: began it (``ADD``), saw it (``OBSERVE``),
ended it (``DELETE``)."""

# --- the OCEL qualifiers of EPCIS relations (docs/formats/epcis.md) ---------------------------

EPC = "epc"
"""An object of the event's ``epcList`` / ``quantityList`` (ObjectEvent, TransactionEvent)."""
PARENT = "parent"
"""The ``parentID``: the pallet or case of an aggregation, the parent of an association."""
CHILD = "child"
"""An object of ``childEPCs`` / ``childQuantityList``: what is packed, or associated."""
INPUT = "input"
"""An input of a TransformationEvent."""
OUTPUT = "output"
"""An output of a TransformationEvent."""
READ_POINT = "readPoint"
"""Where the event was observed."""
BIZ_LOCATION = "bizLocation"
"""Where the objects are after the event."""
BIZ_TRANSACTION = "bizTransaction"
"""A business transaction (PO, despatch advice…) the event belongs to."""
TRANSFORMATION_ID = "transformationID"
"""The transformation the event is one step of."""
SENSOR = "sensor"
"""A sensor device named in the event's sensor data."""
SOURCE = "source:"
"""Prefix of a source's qualifier, followed by its type: ``source:owning_party``."""
DESTINATION = "destination:"
"""Prefix of a destination's qualifier: ``destination:location``."""

GOODS_ROLES = (EPC, CHILD, INPUT, OUTPUT)
"""The relations whose objects are goods the event moves, counts or makes (things or classes)."""
WHAT_ROLES = (EPC, PARENT, CHILD, INPUT, OUTPUT)
"""The relations whose objects are what the event is about (the goods and their containers)."""
PLACE_ROLES = (READ_POINT, BIZ_LOCATION)
"""The relations to the event's locations."""
CONTAINMENT_ROLES = (PARENT, CHILD)
"""The two sides of an aggregation (or association)."""
STANDARD_QUALIFIERS = frozenset(
    {EPC, PARENT, CHILD, INPUT, OUTPUT, READ_POINT, BIZ_LOCATION, BIZ_TRANSACTION}
    | {TRANSFORMATION_ID, SENSOR}
)
"""Qualifiers the EPCIS mapping writes (besides ``source:<type>`` / ``destination:<type>``)."""

CONTAINS = "contains"
"""Object-to-object: a parent contains each child (AggregationEvent ADD)."""
ASSOCIATED_WITH = "associated with"
"""Object-to-object: a parent is associated with each child (AssociationEvent ADD)."""
DERIVED_FROM = "derived from"
"""Object-to-object: each output of a transformation is derived from each input."""


# --- checking a term ---------------------------------------------------------------------------

_WEB_MARKERS = tuple(v.web for v in VOCABULARIES if v.web)
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
# The same for the usual characters only: about twice as fast (no Unicode blank lookups).
PLAIN_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+")
"""A URI of the usual characters (the fast first try of :func:`is_absolute_uri`)."""


def is_absolute_uri(value: str) -> bool:
    """True for ``scheme:rest`` with no blanks: what EPCIS means by a URI."""
    return PLAIN_URI.fullmatch(value) is not None or _ABSOLUTE_URI.fullmatch(value) is not None


def _expected(v: Vocabulary) -> str:
    forms = [f"'{v.example}'"]
    if v.urn:
        forms.append(f"'{v.urn}{v.example}'")
    if v.web:
        forms.append(f"'{CBV_WEB}{v.web}{v.example}'")
    if v.gs1_voc:
        forms.append(f"'{GS1_VOC}{v.example}'")
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
    if value.startswith(CBV_URN):
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
    for base in CBV_WEB_BASES:
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
        for base in GS1_VOC_BASES:
            if expanded.startswith(base):
                local = expanded[len(base) :]
                local = local.removeprefix("MT-")
                if local in vocab.terms:
                    return None
                return f"'{value}' names no GS1 {vocab.label}", expected
    if not is_absolute_uri(value):
        return f"'{value}' is neither a CBV term nor a URI", expected
    return None
