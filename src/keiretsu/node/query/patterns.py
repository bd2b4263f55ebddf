"""How an identifier in a query meets the identifiers in the store.

A caller names a thing the way its own systems write it — an EPC URN
(``urn:epc:id:sscc:0614141.1234567890``), a GS1 Digital Link on its own domain, an EPC pattern
(``urn:epc:idpat:sgtin:0614141.107346.*``: every serial of one product), a bare GTIN (the
product, and so every serial and lot of it). The store names every GS1 key by its canonical
Digital Link (:func:`keiretsu.model.gs1.canonical_id`), so a parameter is turned into that
name (:func:`identifier`), and a pattern or a product into regular expressions over the
stored names (:func:`matchers`; what a pattern covers is GS1 knowledge, in
:mod:`keiretsu.model.gs1`).
"""

from __future__ import annotations

from collections.abc import Sequence

from keiretsu.model.gs1 import canonical_id, instances_regex, pattern_regexes
from keiretsu.node.epcis_render import plain_id

__all__ = ["identifier", "matchers"]


def identifier(text: str) -> str:
    """The store's name for an identifier as a caller wrote it (any spelling of a GS1 key,
    with or without the binding's angle brackets and JSON-LD prefixes)."""
    return canonical_id(plain_id(text))


def matchers(values: Sequence[str]) -> tuple[list[str], str | None]:
    """Exact ids and one regular expression (or None) for MATCH_ values: URIs are matched
    in their canonical form; a product (GTIN) or an SGTIN pattern ``cp.item.*`` also matches
    every serial and lot of that product; ``*`` patterns match by field."""
    exact: list[str] = []
    regexes: list[str] = []
    for value in values:
        found = pattern_regexes(value)
        if found is not None:
            regexes += found
            exact.append(identifier(value))  # the pattern as a class of its own
            continue
        canonical = identifier(value)
        exact.append(canonical)
        instances = instances_regex(canonical)
        if instances is not None:
            regexes.append(instances)
    return exact, ("|".join(f"(?:{r})" for r in regexes) if regexes else None)
