"""The fast path: a strict scanner for the usual OpenXES layout of traces and events.

Almost every XES log in the field was written by OpenXES (ProM, Disco exports, the BPI Challenge
logs) and looks the same::

    <trace>
        <string key="concept:name" value="173688"/>
        <event>
            <string key="org:resource" value="112"/>
            <date key="time:timestamp" value="2011-10-01T00:38:44.546+02:00"/>
            ...
        </event>
    </trace>

For a run of whole traces in exactly this layout, :func:`scan` reads the attributes with one
``str.split`` on the double quote and builds the event columns in Arrow and NumPy, with no
Python work per event. It is strict on purpose: any other markup (comments, CDATA, nested
attributes, another attribute order, single quotes, a namespace prefix), a missing or repeated
special key, a bad value, an id clash — anything where the reference reader would do something
particular or refuse — makes it decline the run and change nothing, and the caller hands the
text to the reference reader (:mod:`keiretsu.io.xes._reference`), which defines the meaning.

What the scanner trusts without checking is checked elsewhere: libxml2 parses the whole
document for well-formedness alongside (so no ``<`` or undefined entity hides in a value), and
the caller only cuts runs where no comment, CDATA section or processing instruction is open.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.io.xes._reference import (
    _BOOLEAN,
    _DATE,
    _FLOAT,
    _ID,
    _INT,
    _STRING,
    _VALUE_TYPES,
    FastRows,
    _canonical,
    _Target,
)
from keiretsu.model.ocel import EPOCH

__all__ = ["scan"]

# Text between two attributes' quoted values: the end of one attribute element, the structural
# tags crossed (``</event>``, ``<event>``, ``</trace>``, ``<trace>``) and the start of the next.
_GLUE = re.compile(
    r"(/>)?[ \t\r\n]*((?:</?(?:trace|event)>[ \t\r\n]*)*)"
    r"(?:<(string|date|int|float|boolean|id) key=)?\Z"
)
_TAG = re.compile(r"<(/?)(trace|event)>")
_KINDS = {"string": _STRING, "date": _DATE, "int": _INT, "float": _FLOAT, "boolean": _BOOLEAN}
_KINDS["id"] = _ID
# OCEL value type by kind code (kind codes are 0..5)
_TYPE_NAMES = pa.array([_VALUE_TYPES[k] for k in range(6)], pa.string())
_SPECIAL = {"concept:name": 1, "time:timestamp": 2, "identity:id": 3, "org:resource": 4}
_NAME, _TS, _IDENT, _RES = 1, 2, 3, 4
# states: 0 between traces, 1 inside a trace, 2 inside an event
_OPEN_TRACE, _CLOSE_TRACE, _OPEN_EVENT, _CLOSE_EVENT = range(4)
_WS = str.maketrans("\t\n", "  ")
_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _entity(match: re.Match[str]) -> str:
    hexa, dec, named = match.groups()
    if named:
        return _NAMED[named]
    return chr(int(hexa, 16) if hexa else int(dec))


def unescape(raw: str) -> str:
    """An attribute value as libxml2 reports it: line ends normalised, tab/newline/CR become a
    space (XML 1.0 §3.3.3), then character and the five predefined entity references decoded."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").translate(_WS)
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    return text


def _needs_unescape(text: str) -> bool:
    return "&" in text or "\t" in text or "\n" in text or "\r" in text


class _Glue:
    """What one piece of glue text means: structural tags crossed and the next attribute kind."""

    __slots__ = ("close", "end", "events", "kind", "traces", "valid")

    def __init__(self, text: str) -> None:
        match = _GLUE.match(text)
        self.valid = [False, False, False]  # may this glue follow state 0 / 1 / 2?
        self.end = -1  # state after the glue, -1: unchanged (no tags)
        self.events = self.traces = 0
        self.kind = -1  # kind of the attribute that follows, -1: none (end of the run)
        self.close = False  # starts by closing the previous attribute element ("/>")
        if match is None:
            return
        self.close = match.group(1) is not None
        if match.group(3) is not None:
            self.kind = _KINDS[match.group(3)]
        tags = [
            (_CLOSE_TRACE if slash else _OPEN_TRACE)
            if name == "trace"
            else (_CLOSE_EVENT if slash else _OPEN_EVENT)
            for slash, name in _TAG.findall(match.group(2))
        ]
        self.events = tags.count(_OPEN_EVENT)
        self.traces = tags.count(_OPEN_TRACE)
        for start in (0, 1, 2):
            state = start
            for tag in tags:
                if tag == _OPEN_TRACE and state == 0:
                    state = 1
                elif tag == _CLOSE_TRACE and state == 1:
                    state = 0
                elif tag == _OPEN_EVENT and state == 1:
                    state = 2
                elif tag == _CLOSE_EVENT and state == 2:
                    state = 1
                else:
                    break
            else:
                self.valid[start] = True
                if tags:
                    self.end = state
        # an empty event or trace opened and closed within one glue has no name: decline
        if self.events > 1 or self.traces > 1:
            self.valid = [False, False, False]


@lru_cache(maxsize=256)
def _glue(text: str) -> _Glue:
    return _Glue(text)


def _counts(index: IntArray, mask: BoolArray, size: int) -> IntArray:
    return np.bincount(index[mask], minlength=size)


def scan(text: str, target: _Target) -> bool:
    """Read ``text`` — whole traces in the OpenXES layout, with the whitespace around them —
    into ``target``'s builder. Returns False, having changed nothing, when the text is not in
    that layout or the reference reader would treat some of it in a particular way."""
    parts = text.split('"')
    n_attr = len(parts) // 4
    if n_attr == 0 or len(parts) % 4 != 1:
        return False
    glues = parts[0::4]
    keys = parts[1::4]
    vals = parts[3::4]
    if parts[2::4].count(" value=") != n_attr:
        return False
    del parts
    # every '<' must open one of the tokens the glue accounts for (no other markup in the run)
    kinds_of = {g: _glue(g) for g in dict.fromkeys(glues)}
    table = list(kinds_of.values())
    code_of = {g: i for i, g in enumerate(kinds_of)}
    codes = np.fromiter(map(code_of.__getitem__, glues), np.int64, n_attr + 1)
    tags_in = np.array([g.count("<") for g in kinds_of], np.int64)
    if int(np.bincount(codes, minlength=len(table)) @ tags_in) != text.count("<"):
        return False
    kind_t = np.array([g.kind for g in table], np.int64)
    close_t = np.array([g.close for g in table], np.bool_)
    if close_t[codes[0]] or not close_t[codes[1:]].all():
        return False
    kinds = kind_t[codes[:n_attr]]
    if (kinds < 0).any() or kind_t[codes[n_attr]] != -1:
        return False
    # the state (1 in a trace, 2 in an event) each attribute sits in, by forward fill
    end_t = np.array([g.end for g in table], np.int64)
    ends = end_t[codes]
    ends[0] = ends[0] if ends[0] >= 0 else 0
    have = np.where(ends >= 0, np.arange(n_attr + 1), 0)
    np.maximum.accumulate(have, out=have)
    states = ends[have]
    previous = np.concatenate(([0], states[:-1]))
    valid_t = np.array([g.valid for g in table], np.bool_)
    if not valid_t[codes, previous].all() or states[n_attr] != 0 or (states[:n_attr] == 0).any():
        return False
    states = states[:n_attr]
    ev_open = np.array([g.events for g in table], np.int64)[codes]
    tr_open = np.array([g.traces for g in table], np.int64)[codes]
    if ev_open[n_attr] or tr_open[n_attr]:
        return False
    ev_index = np.cumsum(ev_open[:n_attr]) - 1
    tr_index = np.cumsum(tr_open[:n_attr]) - 1
    n_ev = int(ev_index[-1]) + 1
    n_tr = int(tr_index[-1]) + 1
    return _build(target, keys, vals, kinds, states, ev_index, tr_index, n_ev, n_tr)


def _build(
    target: _Target,
    keys: list[str],
    vals: list[str],
    kinds: IntArray,
    states: IntArray,
    ev_index: IntArray,
    tr_index: IntArray,
    n_ev: int,
    n_tr: int,
) -> bool:
    # keys: few distinct ones; decode entities on the dictionary only
    key_codes = pa.array(keys, pa.string()).dictionary_encode()
    key_index = key_codes.indices.to_numpy().astype(np.int64)
    key_names = [unescape(k) if _needs_unescape(k) else k for k in key_codes.dictionary.to_pylist()]
    key_array = pa.array(key_names, pa.string()).take(key_codes.indices)
    special = np.array([_SPECIAL.get(k, 0) for k in key_names], np.int64)[key_index]
    joined = '"'.join(vals)
    if _needs_unescape(joined):
        vals = [unescape(v) if _needs_unescape(v) else v for v in vals]
    del joined
    try:
        values = pa.array(vals, pa.string())
    except UnicodeEncodeError:  # an undecodable byte: libxml2 refuses the document
        return False

    in_event = states == 2
    in_trace = states == 1
    is_name = special == _NAME
    ev_name = in_event & is_name
    ev_ts = in_event & (special == _TS)
    ev_ident = in_event & (special == _IDENT)
    ev_res = in_event & (special == _RES)
    if n_ev and not (
        (_counts(ev_index, ev_name, n_ev) == 1).all()
        and (_counts(ev_index, ev_ts, n_ev) == 1).all()
        and (kinds[ev_ts] == _DATE).all()
        and (_counts(ev_index, ev_ident, n_ev) <= 1).all()
        and (_counts(ev_index, ev_res, n_ev) <= 1).all()
    ):
        return False
    tr_name = in_trace & is_name
    if not (_counts(tr_index, tr_name, n_tr) == 1).all():
        return False
    # the case id must come before the trace's events (else the reference holds them back)
    name_at = np.flatnonzero(tr_name)
    first_at = np.searchsorted(tr_index, np.arange(n_tr))
    in_event_before = np.concatenate(([0], np.cumsum(in_event)))
    if (in_event_before[name_at] != in_event_before[first_at]).any():
        return False

    case_ids: list[str] = values.take(name_at).to_pylist()
    object_types = target.object_types
    if len(set(case_ids)) != n_tr or any(c in object_types for c in case_ids):
        return False

    # trace attributes become the case's attributes (canonical text, checked before anything
    # is committed)
    trace_at = np.flatnonzero(in_trace & ~is_name)
    case_attrs: list[tuple[int, str, str, str]] = []
    if len(trace_at):
        t_keys = key_array.take(trace_at).to_pylist()
        t_vals = values.take(trace_at).to_pylist()
        t_kind = kinds[trace_at].tolist()
        t_trace = tr_index[trace_at].tolist()
        try:
            for t, k, v, kind in zip(t_trace, t_keys, t_vals, t_kind, strict=True):
                case_attrs.append((t, k, _canonical(kind, v), _VALUE_TYPES[kind]))
        except ValueError:
            return False

    # events: activity, time text, trace, position in the trace, id
    name_pos = np.flatnonzero(ev_name)
    ev_type = values.take(name_pos)
    stamps = values.take(np.flatnonzero(ev_ts))
    ev_trace = tr_index[name_pos]
    ev_first = np.searchsorted(ev_trace, np.arange(n_tr))
    position = np.arange(n_ev) - ev_first[ev_trace]
    case_array = pa.array(case_ids, pa.string())
    ev_case = case_array.take(ev_trace)
    ev_id = pc.binary_join_element_wise(ev_case, pa.array(position).cast(pa.string()), "/")
    if ev_ident.any():
        has_ident = _counts(ev_index, ev_ident, n_ev) == 1
        ev_id = pc.replace_with_mask(
            ev_id, pa.array(has_ident), values.take(np.flatnonzero(ev_ident))
        )

    # event attributes: everything but the activity, the time and the id, canonical text
    attr_at = np.flatnonzero(in_event & ~is_name & (special != _TS) & (special != _IDENT))
    attr_kind = kinds[attr_at]
    ea_value = values.take(attr_at)
    typed = np.flatnonzero((attr_kind != _STRING) & (attr_kind != _ID))
    if len(typed):
        texts = ea_value.take(typed).to_pylist()
        typed_kinds = attr_kind[typed].tolist()
        canonical = _memo()
        try:
            fixed = [canonical(k, t) for k, t in zip(typed_kinds, texts, strict=True)]
        except ValueError:
            return False
        mask = np.zeros(len(attr_at), np.bool_)
        mask[typed] = True
        ea_value = pc.replace_with_mask(ea_value, pa.array(mask), pa.array(fixed, pa.string()))
    ea_name = key_array.take(attr_at)
    ea_type = _TYPE_NAMES.take(pa.array(attr_kind))
    ea_id = ev_id.take(pa.array(ev_index[attr_at]))

    # resources: new ones become objects; a clash with any case or other object: decline
    rtype = target.resource_type or ""
    has_res = _counts(ev_index, ev_res, n_ev) == 1
    new_resources: list[tuple[int, str]] = []  # (trace of first use, id), in order of first use
    res_values = values.take(np.flatnonzero(ev_res))
    if target.resource_type is not None and len(res_values):
        encoded = res_values.dictionary_encode()
        _, first = np.unique(encoded.indices.to_numpy(), return_index=True)
        res_events = np.flatnonzero(has_res)
        cases = set(case_ids)
        for rid, at in zip(encoded.dictionary.to_pylist(), first.tolist(), strict=True):
            known = object_types.get(rid)
            if known == rtype:
                continue
            if known is not None or rid in cases:
                return False
            new_resources.append((int(ev_trace[res_events[at]]), rid))
        counts = 1 + has_res.astype(np.int64)
        rows = np.repeat(np.arange(n_ev), counts)
        second = np.zeros(len(rows), np.bool_)
        second[(np.cumsum(counts) - 1)[has_res]] = True
        eo_event = ev_id.take(pa.array(rows))
        eo_object = pc.replace_with_mask(ev_case.take(pa.array(rows)), pa.array(second), res_values)
        eo_qualifier = pc.if_else(pa.array(second), "resource", "case")
    else:
        eo_event = ev_id
        eo_object = ev_case
        eo_qualifier = pc.if_else(pa.array(np.zeros(n_ev, np.bool_)), "resource", "case")

    # --- commit: nothing above touched the target ------------------------------------------
    b = target.b
    b.add_fast(
        FastRows(
            ev_id=ev_id,
            ev_type=ev_type,
            stamps=stamps,
            ea_id=ea_id,
            ea_name=ea_name,
            ea_value=ea_value,
            ea_type=ea_type,
            eo_event=eo_event,
            eo_object=eo_object,
            eo_qualifier=eo_qualifier,
        )
    )
    _declare(target, ev_type, ev_index[attr_at], ea_name, attr_kind)
    # objects in the reference's order: a trace's new resources as its events name them, then
    # the case when the trace ends, with its attributes
    r = a = 0
    for t, case_id in enumerate(case_ids):
        while r < len(new_resources) and new_resources[r][0] == t:
            rid = new_resources[r][1]
            object_types[rid] = rtype
            b.add_object(rid, rtype)
            r += 1
        object_types[case_id] = target.case_type
        b.add_object(case_id, target.case_type)
        while a < len(case_attrs) and case_attrs[a][0] == t:
            _, key, text, vtype = case_attrs[a]
            b.add_object_attribute(case_id, key, text, EPOCH, vtype)
            a += 1
    target.trace_index += n_tr
    target.event_total += n_ev
    return True


def _declare(
    target: _Target, ev_type: pa.Array, attr_event: IntArray, ea_name: pa.Array, kinds: IntArray
) -> None:
    """Declare the event types and their attributes in the order the reference reader would:
    each type's attribute names in order of first use, with the type of that first use."""
    b = target.b
    known_attrs = target.known_attrs
    types = ev_type.dictionary_encode()
    type_names: list[str] = types.dictionary.to_pylist()
    for name in type_names:
        if name not in known_attrs:
            known_attrs[name] = set()
            b.declare_event_type(name)
    if not len(attr_event):
        return
    names = ea_name.dictionary_encode()
    name_list: list[str] = names.dictionary.to_pylist()
    type_of_attr = types.indices.to_numpy().astype(np.int64)[attr_event]
    combo = (type_of_attr * len(name_list) + names.indices.to_numpy()) * 8 + kinds
    _, first = np.unique(combo, return_index=True)
    first.sort()
    for at in first.tolist():
        etype = type_names[int(type_of_attr[at])]
        key = name_list[int(names.indices[at].as_py())]
        known = known_attrs[etype]
        if key not in known:
            known.add(key)
            b.declare_event_type(etype, {key: _VALUE_TYPES[int(kinds[at])]})


def _memo() -> Callable[[int, str], str]:
    """:func:`_canonical` with a memory: a log repeats the same few values many times."""
    seen: dict[tuple[int, str], str] = {}

    def canonical(kind: int, text: str) -> str:
        key = (kind, text)
        hit = seen.get(key)
        if hit is None:
            hit = seen[key] = _canonical(kind, text)
        return hit

    return canonical
