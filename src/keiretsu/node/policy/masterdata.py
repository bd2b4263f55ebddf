"""What master data goes with the events a partner may see: deny by default.

A node's master data (:mod:`keiretsu.store.masterdata`) says what its places, goods and
business steps *are*: a location's name and address, the site a dock belongs to, the rooms
below it. It leaves by the rule that lets events leave, and only with them:

* only the elements the shared events name **under their own names** — a location, product or
  lot that goes with a permitted event (``share_objects``), or a business step of one; a
  pseudonymised place never takes its master data along (its name would undo the pseudonym);
* only the attributes the permitting rules list in ``master_data`` (URIs, ``*`` wildcards:
  ``master_data = ["urn:epcglobal:cbv:mda:name"]``); a rule without the key shares none;
* a link in the hierarchy (children, a sub-site's ``site``) only between two elements that
  both leave — so ``WD_`` run by a partner follows exactly the hierarchy it may see.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.ocel import Ocel
from keiretsu.node.policy.rules import Rule
from keiretsu.store.masterdata import SITE_ATTRIBUTE, MasterElement, StoredElement, attach

__all__ = ["share_master_data"]


def share_master_data(
    out: Ocel, master: Sequence[MasterElement], event_rules: Sequence[tuple[Rule, pa.Array]]
) -> Ocel:
    """``out`` (what leaves, pseudonyms applied) carrying the master data of ``master`` that
    goes with it under the ``event_rules`` (each permit rule with the events it matched)."""
    rules = [r for r, mask in event_rules if r.master_data and pc.any(mask).as_py()]
    if not rules or not master or out.num_events == 0:
        return out
    leaving = {
        *out.objects.column("ocel_id").to_pylist(),
        *out.events.column("ocel_type").to_pylist(),
    }
    shared: list[StoredElement] = []
    for el in master:
        if el.element_id not in leaving:
            continue
        attributes = tuple(
            (name, value)
            for name, value in el.attributes
            if any(r.shares_master_attribute(name) for r in rules)
            and (name != SITE_ATTRIBUTE or value in leaving)
        )
        children = el.children
        if children is not None:
            children = tuple(c for c in children if c in leaving)
        if attributes or children:
            shared.append(StoredElement(el.vocabulary_type, el.element_id, attributes, children))
    return attach(out, shared) if shared else out
