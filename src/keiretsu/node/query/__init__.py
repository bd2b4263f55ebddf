"""The EPCIS 2.0 query interface over a twin's store: which events a SimpleEventQuery selects.

A partner (or the twin's own user) asks the twin "every shipping event of these pallets since
Monday" in the words of the EPCIS 2.0 standard (section 8.2.7.1, SimpleEventQuery) and its REST
binding (``GET /events?EQ_bizStep=shipping&MATCH_epc=…``, or a named query's JSON ``query``).
This package turns those parameters into one parameterised SQL query over the store's
``ocel_*`` tables, pages through the answer with an opaque ``nextPageToken``, and writes the
selected events as EPCIS 2.0 JSON — one concept a module:

* :mod:`~keiretsu.node.query.parameters` — :func:`parse_query` / :func:`query_from_json` read
  the parameters into an :class:`EventQuery`, refusing an unknown parameter or a bad value with
  a :class:`QueryError` that names it;
* :mod:`~keiretsu.node.query.patterns` — identifiers in parameters matched in every spelling
  the store knows the thing by: an EPC URN, a GS1 Digital Link on any domain, an EPC pattern
  (``urn:epc:idpat:sgtin:0614141.107346.*``), a product and all its instances;
* :mod:`~keiretsu.node.query.sql` — the conditions, on unqualified table names so a partner's
  cursor answers from its view;
* :mod:`~keiretsu.node.query.paging` and :mod:`~keiretsu.node.query.select` —
  :func:`select_events` gives one :class:`Page` of event ids in the query's order, with the
  sealed token of the next;
* :mod:`~keiretsu.node.query.keyed` — a few rows of a large table read through its index;
* :mod:`~keiretsu.node.query.render` — :func:`render_events` gives those events back as EPCIS
  (as captured when they came as EPCIS, else written from their OCEL rows by
  :func:`epcis_from_ocel`), :func:`event_ocel` their OCEL rows (for a sharing policy to filter),
  :func:`query_document` the ``EPCISQueryDocument`` the binding returns.

The supported parameters and their meaning are listed in ``docs/node/epcis-query.md``.
"""

from keiretsu.node.epcis_render import epcis_from_ocel
from keiretsu.node.query.paging import Page
from keiretsu.node.query.parameters import (
    MAX_PER_PAGE,
    EventQuery,
    QueryError,
    parse_query,
    query_from_json,
)
from keiretsu.node.query.render import (
    Fetched,
    event_ocel,
    fetch_events,
    query_document,
    render_events,
    write_events,
)
from keiretsu.node.query.select import select_events

__all__ = [
    "MAX_PER_PAGE",
    "EventQuery",
    "Fetched",
    "Page",
    "QueryError",
    "epcis_from_ocel",
    "event_ocel",
    "fetch_events",
    "parse_query",
    "query_document",
    "query_from_json",
    "render_events",
    "select_events",
    "write_events",
]
