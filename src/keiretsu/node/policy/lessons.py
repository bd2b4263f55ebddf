"""Which kaizen lessons a lesson rule matches, and what of a lesson goes with it.

A lesson is the document :func:`keiretsu.kaizen.lessons.lesson_of` writes for one of the node's
experiments: its A3's aggregates, never the events, objects or locations behind it. A lesson
rule (``rights = ["lessons"]``) matches a lesson when each of its filters passes — ``wastes``
(the waste the experiment attacks), ``statuses`` (where it stands now), ``kinds`` (what its
countermeasure changes), ``experiments`` (its id, ``*`` wildcards) — a filter not written
passes. What goes with a permitted lesson is the whole document but the parts every matching
permit rule ``withhold``\\ s (permit-overrides: a part leaves when one matching rule lets it);
a withheld part travels as ``null`` and is named under ``withheld``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from keiretsu.node.policy.rules import LESSON_PARTS, Rule, glob_regex

__all__ = ["lesson_tests", "matches", "withheld"]


def _kind(lesson: Mapping[str, Any]) -> Any:
    countermeasure = lesson.get("countermeasure")
    return countermeasure.get("kind") if isinstance(countermeasure, Mapping) else None


def lesson_tests(rule: Rule, lesson: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The rule's filters on ``lesson``, each as (what failed, passes), in order."""
    out: list[tuple[str, bool]] = []
    if rule.wastes is not None:
        out.append((f"waste not in {list(rule.wastes)}", lesson.get("waste") in rule.wastes))
    if rule.statuses is not None:
        out.append((f"status not in {list(rule.statuses)}", lesson.get("status") in rule.statuses))
    if rule.kinds is not None:
        out.append((f"countermeasure kind not in {list(rule.kinds)}", _kind(lesson) in rule.kinds))
    if rule.experiments is not None:
        eid = str(lesson.get("experiment_id", ""))
        hit = any(re.fullmatch(glob_regex(p)[1:-1], eid, re.DOTALL) for p in rule.experiments)
        out.append((f"experiment id not in {list(rule.experiments)}", hit))
    return out


def matches(rule: Rule, lesson: Mapping[str, Any]) -> bool:
    """Whether every filter of the lesson rule passes for ``lesson``."""
    return all(passes for _, passes in lesson_tests(rule, lesson))


def withheld(rules: list[Rule]) -> tuple[str, ...]:
    """The parts of a lesson none of ``rules`` (the permit rules that match it) lets go."""
    if not rules:
        return LESSON_PARTS
    kept = {part for rule in rules for part in LESSON_PARTS if part not in rule.withhold}
    return tuple(p for p in LESSON_PARTS if p not in kept)
