"""XES (IEEE 1849-2016) event logs → OCEL 2.0.

A XES log is *case-centric*: every event belongs to exactly one trace (a case: a purchase order,
a permit application, a service ticket). keiretsu is object-centric, so each trace becomes one
object of type ``case`` (or the ``case_type`` you name, e.g. ``"order"``) and each event is
related to it; the resource that did the work (``org:resource``) becomes an object too, so the
views can show who was busy where. The full mapping is written down in ``docs/formats/xes.md``.

The reader streams in bounded memory and hands back :class:`~keiretsu.model.Ocel` batches. It
never resolves entities, never loads a DTD and never touches the network: a document that
declares a DTD is refused. Inside, a strict scanner reads the usual OpenXES layout of traces
and events at Arrow speed and a libxml2 reader reads everything else; both give the same tables.
"""

from keiretsu.io.xes._read import read_xes

__all__ = ["read_xes"]
