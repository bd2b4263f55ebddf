"""Pseudonyms: the names identifiers travel under, for one partner.

A pseudonym is ``urn:keiretsu:pseudo:`` and 32 hex digits (128 bits) of HMAC-SHA256 keyed with
the node's secret and the partner's name: stable for one partner (it can follow a pallet over
time), different for two partners (they cannot pool what they saw), and not reversible without
the node's secret. An identifier marked for pseudonymisation is replaced wherever it stands in
what leaves: in every id column, and inside attribute values — as the whole value, as a token
of a JSON list or of free text, and in any other spelling of the same GS1 key (an EPC URN in a
sensor report for a Digital Link object).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.gs1 import canonical_id
from keiretsu.model.ocel import Ocel
from keiretsu.node.policy.aggregates import AGGREGATE_PREFIX
from keiretsu.node.policy.matching import in_set
from keiretsu.node.policy.rules import glob_regex

__all__ = ["PSEUDONYM_PREFIX", "Keyed", "partner_key", "pseudonym", "pseudonymise"]

PSEUDONYM_PREFIX = "urn:keiretsu:pseudo:"

# identifiers inside attribute values (JSON lists, free text) are found as tokens between these
_DELIMITERS = r"[\s\"',;|\[\]{}()<>\\]+"
_TOKEN = re.compile(r"[^\s\"',;|\[\]{}()<>\\]+")
_STR = pa.string()


def pseudonym(identifier: str, *, secret: bytes, partner: str) -> str:
    """The name ``identifier`` is given for ``partner``: ``urn:keiretsu:pseudo:`` and 32 hex
    digits (128 bits) of HMAC-SHA256 keyed with the node's secret and the partner's name. The
    same object keeps its pseudonym for one partner (they can follow it over time); two
    partners see two unrelated names, and neither can recover the identifier."""
    return PSEUDONYM_PREFIX + Keyed(partner_key(secret, partner)).digest(identifier)


def partner_key(secret: bytes, partner: str) -> bytes:
    """The HMAC key of one partner: the node's secret, a NUL byte and the partner's name."""
    return secret + b"\x00" + partner.encode()


class Keyed:
    """HMAC-SHA256 (RFC 2104, the standard library's ``hmac``) keyed once: each pseudonym
    copies the keyed state instead of deriving the key's pads again."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, text: str) -> str:
        """The first 32 hex digits of HMAC-SHA256(key, text)."""
        mac = self._keyed.copy()
        mac.update(text.encode())
        return mac.hexdigest()[:32]


def pseudonymise(
    out: Ocel, source: Ocel, types: set[str], patterns: list[str], event_ids: bool, key: Keyed
) -> Ocel:
    """Replace every marked identifier in ``out`` by its pseudonym: in id columns, and as a
    token inside attribute values (a JSON list of ids, free text)."""
    # the identifiers marked: objects of the marked types (as the source and the output
    # describe them), ids matching a pattern, and, if asked, the event ids
    typed = []
    for objects in (source.objects, out.objects):
        if types and objects.num_rows:
            typed.append(
                objects.column("ocel_id").filter(in_set(objects.column("ocel_type"), types))
            )
    candidates = [
        source.objects.column("ocel_id"),
        source.event_objects.column("ocel_object_id"),
        source.object_objects.column("ocel_source_id"),
        source.object_objects.column("ocel_target_id"),
        out.objects.column("ocel_id"),
    ]
    regex = "|".join(glob_regex(p) for p in patterns)
    marked_parts = [
        pc.unique(t.combine_chunks() if isinstance(t, pa.ChunkedArray) else t) for t in typed
    ]
    if regex:
        for c in candidates:
            c = c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
            marked_parts.append(pc.unique(c.filter(pc.match_substring_regex(c, pattern=regex))))
    marked_objects = pc.unique(
        pa.concat_arrays([pa.array([], _STR), *[p.cast(_STR) for p in marked_parts]])
    )
    marked_events = (
        pc.unique(source.events.column("ocel_id").combine_chunks())
        if event_ids
        else pa.array([], _STR)
    )
    marked = pc.unique(pa.concat_arrays([marked_objects, marked_events]))
    names: dict[str, str] = {}

    def name_of(identifier: str) -> str:
        found = names.get(identifier)
        if found is None:
            found = names[identifier] = PSEUDONYM_PREFIX + key.digest(identifier)
        return found

    def renamer(present: pa.Array) -> Any:
        """Pseudonyms for the marked ids ``present`` (distinct), each computed once."""
        replaced = pa.array([name_of(i) for i in present.to_pylist()], _STR)

        def swap(column: Any) -> pa.Array:
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            if len(present) == 0 or len(column) == 0:
                return column
            return pc.coalesce(replaced.take(pc.index_in(column, value_set=present)), column)

        return swap

    def values(column: Any) -> pa.Array:
        return _swap_tokens(column, marked, regex, name_of)

    tables = out.tables()
    object_columns = [
        ("event_objects", 1),
        ("objects", 0),
        ("object_attributes", 0),
        ("object_objects", 0),
        ("object_objects", 1),
    ]
    event_columns = [("event_objects", 0), ("events", 0), ("event_attributes", 0)]
    # every id in an id column of the output is an object the output describes (or an event
    # it holds), so the marked ones are found there, without looking through the source
    objects = out.objects.column("ocel_id").combine_chunks()
    marked_here = in_set(out.objects.column("ocel_type").combine_chunks(), types)
    if regex:
        marked_here = pc.or_(marked_here, pc.match_substring_regex(objects, pattern=regex))
    events = out.events.column("ocel_id").combine_chunks()
    own = pc.invert(pc.starts_with(events, AGGREGATE_PREFIX))
    for columns, present in (
        (object_columns, pc.unique(objects.filter(marked_here))),
        (event_columns, events.filter(own) if event_ids else pa.array([], _STR)),
    ):
        swap = renamer(present)
        for name, c in columns:
            t = tables[name]
            tables[name] = t.set_column(c, t.schema.field(c).name, swap(t.column(c)))
    for name, col in (("event_attributes", 2), ("object_attributes", 3)):
        t = tables[name]
        tables[name] = t.set_column(col, "ocel_value", values(t.column(col)))
    return Ocel(**tables)


def _swap_tokens(column: Any, marked: pa.Array, regex: str, name_of: Any) -> pa.Array:
    """Attribute values with every marked identifier in them replaced by its pseudonym. An
    identifier is found as a whole value or as a token between blanks, quotes, commas,
    brackets…; an identifier that itself holds such characters is found anywhere in a value."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(column) == 0 or (len(marked) == 0 and not regex):
        return column
    parts = pc.split_pattern_regex(column, pattern=_DELIMITERS)
    tokens = pc.list_flatten(parts)
    hit = pc.fill_null(pc.is_in(tokens, value_set=marked), False)
    if regex:
        hit = pc.or_(hit, pc.fill_null(pc.match_substring_regex(tokens, pattern=regex), False))
    marked_set = set(marked.to_pylist())
    # the same thing in another spelling (an EPC URN in a sensor report, a Digital Link on
    # another domain) is the same identifier: its canonical form is looked up too
    spelled = pc.fill_null(
        pc.match_substring_regex(tokens, pattern=r"^(urn:epc:|https?://)"), False
    )
    aliases: dict[str, str] = {}
    for text in pc.unique(tokens.filter(pc.and_(spelled, pc.invert(hit)))).to_pylist():
        canonical = canonical_id(text)
        if canonical != text and canonical in marked_set:
            aliases[text] = canonical
    if aliases:
        hit = pc.or_(hit, in_set(tokens, aliases))
    rows = pc.unique(pc.list_parent_indices(parts).filter(hit))
    pattern = re.compile(regex) if regex else None
    awkward = pc.filter(marked, pc.match_substring_regex(marked, pattern=_DELIMITERS)).to_pylist()
    extra: list[int] = []
    for m in awkward:
        extra.extend(
            pc.indices_nonzero(pc.fill_null(pc.match_substring(column, m), False)).to_pylist()
        )
    todo = sorted(set(rows.to_pylist()) | set(extra))
    if not todo:
        return column

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in marked_set or (pattern is not None and pattern.fullmatch(text)):
            return str(name_of(text))
        if text in aliases:
            return str(name_of(aliases[text]))
        return text

    fixed = []
    for value in column.take(pa.array(todo, pa.int64())).to_pylist():
        for m in awkward:
            value = value.replace(m, name_of(m))
        fixed.append(_TOKEN.sub(token, value))
    mask = np.zeros(len(column), dtype=bool)
    mask[todo] = True
    return pc.replace_with_mask(column, pa.array(mask), pa.array(fixed, _STR))
