"""The contract between the EPCIS readers, validation, event hash and the OCEL mapping.

Both readers (JSON/JSON-LD and XML) yield :class:`RawEvent` s whose ``data`` is the event in the
**EPCIS 2.0 JSON binding form**: keys exactly as in the JSON binding (``type``, ``eventTime``,
``eventTimeZoneOffset``, ``epcList``, ``quantityList``, ``bizStep``, ``readPoint: {"id": ...}``,
``sensorElementList``…), JSON types (quantities and sensor values as numbers), and user
extensions as ``"prefix:local"`` keys whose prefix is declared in :attr:`DocumentHeader.namespaces`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DocumentHeader:
    """What the document says about itself before its events."""

    kind: str = "EPCISDocument"
    """``EPCISDocument`` (capture) or ``EPCISQueryDocument``."""
    syntax: str = "json"
    """``json`` or ``xml``."""
    schema_version: str | None = None
    creation_date: str | None = None
    namespaces: dict[str, str] = field(default_factory=dict)
    """prefix → namespace URI, from the JSON-LD ``@context`` or the XML ``xmlns`` declarations."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Any other top-level member (``sender``, ``receiver``, ``instanceIdentifier``…)."""


@dataclass
class RawEvent:
    """One event as read, before validation and mapping."""

    index: int
    """0-based position in the document's event list."""
    data: dict[str, Any]
    """The event in the EPCIS 2.0 JSON binding form."""
    pointer: str
    """Where the event is: a JSON pointer (``/epcisBody/eventList/3``) or an XPath
    (``/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[2]``)."""
    line: int | None = None
    """1-based line of the event's start in the file, where known."""
