"""The vocabulary: OCEL 2.0 tables and types, and the errors every room speaks."""

from keiretsu.model.errors import DocumentError, Problem
from keiretsu.model.ocel import (
    ATTRIBUTE_TYPES,
    EPOCH,
    SCHEMAS,
    TIME,
    Ocel,
    OcelBuilder,
    decode_value,
    encode_value,
    format_time,
    parse_time,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "EPOCH",
    "SCHEMAS",
    "TIME",
    "DocumentError",
    "Ocel",
    "OcelBuilder",
    "Problem",
    "decode_value",
    "encode_value",
    "format_time",
    "parse_time",
]
