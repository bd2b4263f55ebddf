"""The EPCIS 2.0 query interface — moved to the package :mod:`keiretsu.node.query`.

This module is its former home and hands every public name on unchanged, so
``from keiretsu.node.epcis_query import parse_query, select_events, render_events`` keeps
working; new code imports from :mod:`keiretsu.node.query`.
"""

from keiretsu.model.cbv import EVENT_TYPES as EVENT_TYPE_NAMES
from keiretsu.node.query import (
    MAX_PER_PAGE,
    EventQuery,
    Page,
    QueryError,
    epcis_from_ocel,
    event_ocel,
    parse_query,
    query_document,
    query_from_json,
    render_events,
    select_events,
)

__all__ = [
    "EVENT_TYPE_NAMES",
    "MAX_PER_PAGE",
    "EventQuery",
    "Page",
    "QueryError",
    "epcis_from_ocel",
    "event_ocel",
    "parse_query",
    "query_document",
    "query_from_json",
    "render_events",
    "select_events",
]
