"""The sharing policy of a node: what may leave it, for which partner — deny by default.

A company decides, rule by rule, which of its events a partner may see, with what attached,
under which names, or only as daily totals. The rules follow the access rules of the Asset
Administration Shell security specification (IDTA-01004): each rule names **subjects** (the
partners), **rights** (the channel: ``read`` covers every event channel, or ``query``, ``push``,
``subscribe``; ``lessons`` — kaizen lessons — only when named, never by ``read``),
**objects** (which events: event type / bizStep, EPCIS event type, object types touched,
locations, a time window) and a **condition** over the event's attributes.

Combining, as in IDTA-01004: **permit-overrides** with **deny by default**. An event leaves
when at least one permit rule for the partner and right matches it; a matching deny rule does
not take it back (it records a decision and shows in :meth:`Policy.explain`). Nothing matches:
nothing leaves. A **faulty rule counts as deny**: a file with an unknown key or a value of the
wrong type is refused as a whole (:class:`PolicyError` names file, rule and key), and a rule
whose condition cannot be evaluated for an event (the attribute is missing, a number or time is
not one) does not permit that event.

What goes with a permitted event is deny-by-default too: only the attributes the rule keeps,
only the relations to (and the objects of) the object types it shares, object-to-object links
only between objects that both leave, identifiers pseudonymised where any rule for the partner
asks it, and never the source documents (``source_events``). See ``docs/node/policies.md``.

One concept per module; this package hands the common names on:

* :mod:`~keiretsu.node.policy.rules` — what a rule says (:class:`Rule`, :class:`Condition`);
* :mod:`~keiretsu.node.policy.loading` — ``policy.toml`` read and checked (:class:`PolicyError`);
* :mod:`~keiretsu.node.policy.matching` — which events a rule matches, column-wise;
* :mod:`~keiretsu.node.policy.shaping` — what goes with a permitted event;
* :mod:`~keiretsu.node.policy.aggregates` — the daily totals of aggregate rules;
* :mod:`~keiretsu.node.policy.pseudonyms` — the names identifiers travel under;
* :mod:`~keiretsu.node.policy.lessons` — which kaizen lessons a lesson rule matches, and what of
  each goes with it;
* :mod:`~keiretsu.node.policy.combining` — :class:`Policy`: the rules combined, ``apply`` and
  ``explain``.

Speed: :meth:`Policy.apply` works column-wise over the Arrow tables (pyarrow.compute); Python
runs per rule, per distinct attribute name, per pseudonymised identifier and per aggregate
group, never per event. Measured on the 2-core development machine: 100,000 events with
500,000 attribute rows and 600,000 relations, a rule with a condition pseudonymising trade
items: about 0.7 s CPU; a daily-demand aggregate adds the stock ledger's pass over the log
(about 2 s CPU for those events, 0.1 s for a document of a few dozen). See
``docs/node/policies.md``.
"""

from keiretsu.node.policy.aggregates import AGGREGATE_PREFIX
from keiretsu.node.policy.combining import Policy
from keiretsu.node.policy.loading import PolicyError
from keiretsu.node.policy.pseudonyms import PSEUDONYM_PREFIX, Keyed, pseudonym
from keiretsu.node.policy.rules import (
    DEMAND_STEPS,
    LESSON_PARTS,
    LESSONS,
    MEASURES,
    RIGHTS,
    Condition,
    Rule,
)

_Keyed = Keyed  # the keyed HMAC under its former name (tests/node/test_pseudonym_stable.py)

__all__ = [
    "AGGREGATE_PREFIX",
    "DEMAND_STEPS",
    "LESSONS",
    "LESSON_PARTS",
    "MEASURES",
    "PSEUDONYM_PREFIX",
    "RIGHTS",
    "Condition",
    "Policy",
    "PolicyError",
    "Rule",
    "pseudonym",
]
