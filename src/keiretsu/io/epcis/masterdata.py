"""The master data an EPCIS document carries in its header, read and checked.

``epcisHeader.epcisMasterData.vocabularyList`` (JSON; the XML reader gives
``EPCISHeader/extension/EPCISMasterData`` the same shape): vocabularies, each of a ``type``
(``urn:epcglobal:epcis:vtype:BusinessLocation``…) with a ``vocabularyElementList`` of
elements (``id``, ``attributes`` — ``id`` and ``attribute`` value — and ``children``).

:func:`read_master_data` turns it into :class:`VocabularyElement` s with every id as the store
names things — GS1 keys as canonical Digital Links (so master data of
``urn:epc:id:sgln:0614141.00777.0`` describes the location an event written with its Digital
Link names), CBV business steps and dispositions as their bare word, attribute ids as full
URIs (``cbvmda:sst`` → ``urn:epcglobal:cbv:mda:sst``) — and lists what is wrong with it: a
document with malformed master data is refused whole, like one with a malformed event.
:func:`with_master_data` hangs the elements on the document's last batch, which the store
writes (:mod:`keiretsu.store.masterdata`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from keiretsu.io.epcis._types import DocumentHeader
from keiretsu.model.cbv import (
    BIZ_STEPS,
    DISPOSITIONS,
    MDA_SITE,
    STANDARD_PREFIXES,
    VTYPE_URN,
    short_name,
)
from keiretsu.model.errors import Problem
from keiretsu.model.gs1 import canonical_id
from keiretsu.model.ocel import Ocel

__all__ = ["EpcisBatch", "VocabularyElement", "read_master_data", "with_master_data"]

VTYPE = VTYPE_URN
"""The namespace of the standard vocabulary types."""
SITE = MDA_SITE
"""A sub-site's attribute naming its site (a location id: canonicalised like one)."""
_WORDS = {
    VTYPE + "BusinessStep": BIZ_STEPS.spellings,
    VTYPE + "Disposition": DISPOSITIONS.spellings,
}


@dataclass(frozen=True)
class VocabularyElement:
    """One vocabulary element as the document described it (see
    :class:`keiretsu.store.masterdata.MasterElement`)."""

    vocabulary_type: str
    element_id: str
    attributes: tuple[tuple[str, str | None], ...] = ()
    """(attribute id as a full URI, value as text) in the order sent."""
    children: tuple[str, ...] | None = None
    """The element's children, or ``None`` when the document did not state them."""


class EpcisBatch(Ocel):
    """An OCEL batch that also carries its document's master data (``master_data``): the last
    batch of an EPCIS document whose header has some."""

    master_data: tuple[VocabularyElement, ...]


def with_master_data(batch: Ocel, master: Sequence[VocabularyElement]) -> Ocel:
    """``batch`` carrying ``master`` (as is when there is none)."""
    if not master:
        return batch
    out = EpcisBatch(**batch.tables())
    object.__setattr__(out, "master_data", tuple(master))  # frozen: set once, here
    return out


def _element_id(vocabulary_type: str, value: str) -> str:
    words = _WORDS.get(vocabulary_type)
    if words is not None:
        return short_name(value, words)
    return canonical_id(value)


def _attribute_id(name: str, namespaces: dict[str, str]) -> str:
    prefix, colon, local = name.partition(":")
    if colon and not local.startswith("//"):
        uri = STANDARD_PREFIXES.get(prefix) or namespaces.get(prefix)
        if uri is not None:
            return uri + local
    return name


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def read_master_data(
    header: DocumentHeader, *, document: str | None = None
) -> tuple[list[VocabularyElement], list[Problem]]:
    """The vocabulary elements of the document's header, and what is wrong with them."""
    found: list[VocabularyElement] = []
    problems: list[Problem] = []
    head = header.attributes.get("epcisHeader")
    if not isinstance(head, dict) or "epcisMasterData" not in head:
        return found, problems
    base = "/epcisHeader/epcisMasterData"

    def wrong(where: str, detail: str, expected: str) -> None:
        problems.append(
            Problem(
                title="Invalid master data",
                detail=detail,
                document=document,
                field=where,
                expected=expected,
            )
        )

    data = head["epcisMasterData"]
    vocabularies = data.get("vocabularyList") if isinstance(data, dict) else None
    if not isinstance(vocabularies, list):
        wrong(f"{base}/vocabularyList", "no vocabulary list", "an array of vocabularies")
        return found, problems
    for i, vocabulary in enumerate(vocabularies):
        here = f"{base}/vocabularyList/{i}"
        vtype = vocabulary.get("type") if isinstance(vocabulary, dict) else None
        if not isinstance(vtype, str) or ":" not in vtype:
            wrong(f"{here}/type", "the vocabulary has no type", "a vocabulary type URI")
            continue
        items = vocabulary.get("vocabularyElementList", [])
        if not isinstance(items, list):
            wrong(f"{here}/vocabularyElementList", "not an array", "an array of elements")
            continue
        for j, item in enumerate(items):
            at = f"{here}/vocabularyElementList/{j}"
            element_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(element_id, str) or not element_id.strip():
                wrong(f"{at}/id", "the element has no id", "the element's URI")
                continue
            attributes: list[tuple[str, str | None]] = []
            raw_attributes = item.get("attributes", [])
            if not isinstance(raw_attributes, list):
                wrong(f"{at}/attributes", "not an array", "an array of attributes")
                continue
            for k, attribute in enumerate(raw_attributes):
                name = attribute.get("id") if isinstance(attribute, dict) else None
                if not isinstance(name, str) or not name.strip():
                    wrong(f"{at}/attributes/{k}/id", "the attribute has no id", "its URI")
                    continue
                name = _attribute_id(name.strip(), header.namespaces)
                value = _text(attribute.get("attribute"))
                if name == SITE and value:
                    value = canonical_id(value.strip())
                attributes.append((name, value))
            children: tuple[str, ...] | None = None
            if "children" in item:
                raw_children = item["children"]
                if not isinstance(raw_children, list) or not all(
                    isinstance(c, str) and c.strip() for c in raw_children
                ):
                    wrong(f"{at}/children", "not an array of ids", "an array of element URIs")
                    continue
                children = tuple(_element_id(vtype, c.strip()) for c in raw_children)
            found.append(
                VocabularyElement(
                    vtype, _element_id(vtype, element_id.strip()), tuple(attributes), children
                )
            )
    return found, problems
