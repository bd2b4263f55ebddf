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

from keiretsu.model import cbv, gs1

__all__ = ["event_hash_id", "prehash_string"]

Syntax = Literal["json", "xml"]

# ---------------------------------------------------------------------------------------------
# CBV vocabulary (:mod:`keiretsu.model.cbv`): bare words of the JSON binding and the old URNs of
# the XML binding, both mapped to the CBV 2.0 web URIs.

# (set of bare words, the web URI prefix they expand to)
_Vocab = tuple[frozenset[str], str]


def _vocab(vocabulary: cbv.Vocabulary) -> _Vocab:
    return vocabulary.terms, vocabulary.uri_prefix


_V_BIZ_STEP = _vocab(cbv.BIZ_STEPS)
_V_DISP = _vocab(cbv.DISPOSITIONS)
_V_BTT = _vocab(cbv.BIZ_TRANSACTION_TYPES)
_V_SDT = _vocab(cbv.SOURCE_DEST_TYPES)
_V_MEASUREMENT = _vocab(cbv.MEASUREMENT_TYPES)
_V_ALERT = _vocab(cbv.SENSOR_ALERTS)
_V_COMPONENT = _vocab(cbv.COMPONENTS)

# The lists whose EPCglobal URNs the reference implementation rewrites wherever they appear.
_CBV_URNS = tuple(
    (v.urn, v.uri_prefix)
    for v in (
        cbv.BIZ_STEPS,
        cbv.DISPOSITIONS,
        cbv.BIZ_TRANSACTION_TYPES,
        cbv.SOURCE_DEST_TYPES,
        cbv.ERROR_REASONS,
    )
    if v.urn
)

# CURIE prefixes every EPCIS document may use in values, whatever it declares.
_STANDARD_PREFIXES = {k: cbv.CONTEXT_PREFIXES[k] for k in ("gs1", "cbv", "epcis")}

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
    if cbv.CBV_URN in text:
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
# (:func:`keiretsu.model.gs1.constrained_link`)


_digital_link = gs1.constrained_id
"""The constrained canonical GS1 Digital Link URI for an EPC URI or a GS1 Digital Link URI,
or None when it carries no GS1 key the hash rewrites."""


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
            self.prefixes = {"gs1": cbv.GS1_VOC, "cbv": cbv.CBV_WEB}
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
