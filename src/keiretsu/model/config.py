"""Configuration files as pydantic models, and their errors in the words of the file.

A network (``network.toml``), a node's home (``node.toml``, ``partners.toml``, ``tokens.toml``)
and a sharing policy are TOML files people write by hand. Each is described by a pydantic model
(:class:`ConfigModel`: unknown keys refused, no silent conversions — ``"8700"`` is not a port),
so what a file may hold is written down once, as types and constraints, with each field's
``description`` saying in words what it expects.

When a file does not fit, :func:`validate` turns pydantic's ``ValidationError`` into one line
per problem that says which file, which table or entry (``node[1] (umeda-dc)``), which key, what
was expected (the field's description) and what was found::

    network.toml: key 'network.base_port': expected a TCP port 1-65535, got 70000
    network.toml: node[0] (sakura-plant): unknown key 'colour' (expected one of ingest, name, …)
    network.toml: missing the [network] table: expected name, dir, base_port, host

Rules that span several entries (two nodes on one port, a partner that is not in the network)
are the reader's to check after the shapes are right.
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

__all__ = ["ConfigModel", "describe", "read_toml", "validate"]

M = TypeVar("M", bound=BaseModel)


class ConfigModel(BaseModel):
    """A table of a configuration file: unknown keys are refused (a typo must not pass for a
    default), values are taken as written (strict: no text read as a number, no ``true`` as
    1), and the parsed file does not change."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def read_toml(path: Path, *, error: type[Exception], missing: str = "missing") -> dict[str, Any]:
    """The TOML file at ``path`` as a dictionary, or ``error`` naming the file and what is wrong
    (``missing`` when there is no such file, an unreadable file, TOML syntax with its line)."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read it: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def validate(
    model: type[M],
    data: Mapping[str, Any],
    *,
    source: str | Path,
    error: type[Exception],
    label: str = "name",
) -> M:
    """``data`` (a parsed file) as ``model``, or ``error`` with one line per problem, each
    starting with ``source`` (see the module docstring). An entry of an array of tables is
    named by its ``label`` key where it has one (``node[1] (umeda-dc)``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {line}" for line in describe(exc, model, data, label=label)]
        raise error("\n".join(lines)) from None


def describe(
    exc: ValidationError, model: type[BaseModel], data: Any, *, label: str = "name"
) -> list[str]:
    """Each problem of ``exc`` (raised validating ``data`` as ``model``) in the file's words:
    where (table, entry and key), what was expected, what was found."""
    return [_line(e, model, data, label) for e in exc.errors()]


def _line(error: Any, model: type[BaseModel], data: Any, label: str) -> str:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind: str = error["type"]
    parent, field = _field_at(model, loc)
    entry, key = _where(loc, data, label)
    at = f"{entry}: " if entry else ""
    got = _toml(error["input"])
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(parent.model_fields)) if parent else ""
        if not entry and len(loc) > 1:  # a key of a plain table: name the table
            at, key = ".".join(str(p) for p in loc[:-1]) + ": ", str(loc[-1])
        return f"{at}unknown key {key!r} (expected one of {allowed})"
    said = str(error["msg"])
    expected = _description(field) or said[:1].lower() + said[1:]
    if kind == "missing":
        what = f"key {key!r}"
        annotation = field.annotation if field else None
        if _model_of(annotation) is not None:
            what = f"the [{key}] table"
        elif _model_of(_item(annotation)) is not None:
            what = f"the [[{key}]] tables"
        return f"{at}missing {what}: expected {expected}"
    where = f"key {key!r}: " if key else ""
    if kind == "value_error":  # a check of our own refused it, saying what and why
        return f"{at}{where}{error['ctx']['error']}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        table = f"[[{loc[-2]}]]" if len(loc) > 1 and isinstance(loc[-1], int) else f"[{key}]"
        return f"{at}{where}expected a {table} table, got {got}"
    return f"{at}{where}expected {expected}, got {got}"


def _toml(value: Any) -> str:
    """A value found in the file, as TOML writes it (``true``, ``'8700'``, ``[1, 2]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _description(field: FieldInfo | None) -> str | None:
    """What a field expects, in words: its description, or that of the type it wraps where
    the field may be left out (``port: Port | None``)."""
    if field is None:
        return None
    if field.description:
        return field.description
    for arg in typing.get_args(field.annotation) or (field.annotation,):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in typing.get_args(arg)[1:]:
                if isinstance(meta, FieldInfo) and meta.description:
                    return meta.description
    return None


def _where(loc: tuple[str | int, ...], data: Any, label: str) -> tuple[str, str]:
    """``("node[1] (umeda-dc)", "port")`` for ``("node", 1, "port")``; ``("", "network.name")``
    for ``("network", "name")``: an entry of an array of tables is named, keys of plain tables
    are dotted as TOML writes them."""
    first = next((i for i, part in enumerate(loc) if isinstance(part, int)), None)
    if first is None:
        return "", ".".join(str(p) for p in loc)
    entry = ".".join(str(p) for p in loc[:first]) + f"[{loc[first]}]"
    item = _get(data, loc[: first + 1])
    if isinstance(item, Mapping) and isinstance(item.get(label), str):
        entry += f" ({item[label]})"
    key = ""
    for part in loc[first + 1 :]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return entry, key


def _get(data: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _field_at(
    model: type[BaseModel], loc: tuple[str | int, ...]
) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last key of ``loc`` and that key's field (None: not a field)."""
    current: Any = model
    parent: type[BaseModel] | None = None
    field: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            current = _item(current)
            continue
        parent = _model_of(current)
        if parent is None or part not in parent.model_fields:
            return parent, None
        field = parent.model_fields[part]
        current = field.annotation
    return parent, field


def _plain(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` metadata and without ``| None``."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(kept) == 1:
            return _plain(kept[0])
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    plain = _plain(annotation)
    if isinstance(plain, type) and issubclass(plain, BaseModel):
        return plain
    return None


def _item(annotation: Any) -> Any:
    """The item type of a list or tuple annotation (None for anything else)."""
    plain = _plain(annotation)
    if typing.get_origin(plain) in (list, tuple, Sequence):
        args = typing.get_args(plain)
        return args[0] if args else None
    return None
