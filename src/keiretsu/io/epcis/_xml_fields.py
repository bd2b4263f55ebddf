"""The EPCIS 2.0 XML schema's element sequences, as tables the XML reader checks against.

Taken from GS1's ``EPCglobal-epcis-2_0.xsd`` (gs1/EPCIS): every event type extends
``EPCISEventType`` (the common fields first, in a fixed order) with its own fixed sequence;
after the standard fields comes the optional ``extension`` element and then any number of
elements in other namespaces (user extensions). Element names are unqualified (no namespace).
"""

from __future__ import annotations

import re

EPCIS_NAMESPACES = frozenset(
    {
        "urn:epcglobal:epcis:xsd:2",
        "urn:epcglobal:epcis-query:xsd:2",
        "urn:epcglobal:epcis:xsd:1",
        "urn:epcglobal:epcis-query:xsd:1",
    }
)
"""Namespaces of the EPCIS document, query document and their 1.x predecessors."""

DOCUMENT_ROOTS = frozenset({"EPCISDocument", "EPCISQueryDocument"})

# EPCISEventType: the fields every event starts with.
BASE_FIELDS = (
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
    "baseExtension",
)

_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "ObjectEvent": (
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "quantityList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "ilmd",
        "extension",
    ),
    "AggregationEvent": (
        "parentID",
        "childEPCs",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "childQuantityList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "extension",
    ),
    "TransactionEvent": (
        "bizTransactionList",
        "parentID",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "quantityList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "extension",
    ),
    "TransformationEvent": (
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "ilmd",
        "extension",
    ),
    "AssociationEvent": (
        "parentID",
        "childEPCs",
        "childQuantityList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "extension",
    ),
}

EVENT_TYPES = tuple(_TYPE_FIELDS)

EVENT_SEQUENCES: dict[str, tuple[str, ...]] = {
    name: BASE_FIELDS + fields for name, fields in _TYPE_FIELDS.items()
}
"""Event type → its standard elements in schema order."""

EVENT_POSITIONS: dict[str, dict[str, int]] = {
    name: {field: i for i, field in enumerate(seq)} for name, seq in EVENT_SEQUENCES.items()
}
"""Event type → element name → position in the sequence (for the order check)."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "ObjectEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "AggregationEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "TransactionEvent": ("eventTime", "eventTimeZoneOffset", "bizTransactionList", "action"),
    "TransformationEvent": ("eventTime", "eventTimeZoneOffset"),
    "AssociationEvent": ("eventTime", "eventTimeZoneOffset", "parentID", "action"),
}
"""Elements with ``minOccurs`` 1 in each event type's sequence."""

# Fields that EPCIS 1.x carried in <baseExtension> and <extension> (and <extension><extension>)
# and 2.0 moved to the event itself; the reader lifts them to the event.
LEGACY_BASE_EXTENSION = ("eventID", "errorDeclaration")

TEXT_FIELDS = frozenset(
    {
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "action",
        "bizStep",
        "disposition",
        "parentID",
        "transformationID",
    }
)
EPC_LIST_FIELDS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
QUANTITY_LIST_FIELDS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
LOCATION_FIELDS = frozenset({"readPoint", "bizLocation"})
TIME_FIELDS = frozenset({"eventTime", "recordTime"})

ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})

SENSOR_METADATA_TIMES = frozenset({"time", "startTime", "endTime"})
SENSOR_DOUBLES = frozenset(
    {"value", "minValue", "maxValue", "sDev", "meanValue", "percRank", "percValue"}
)
SENSOR_BOOLEANS = frozenset({"booleanValue"})

# epcis:DateTimeStamp, the XSD's pattern verbatim: a time zone is required.
DATE_TIME = re.compile(
    r"([0-9]{4})-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12][0-9])T(2[0-3]|[01][0-9]):([0-5][0-9])"
    r":([0-5][0-9])(\.[0-9]+)?(Z|(([+]|[-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)))"
)
# xsd:decimal (quantity) and xsd:double (sensor values), lexical forms.
DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
DOUBLE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
