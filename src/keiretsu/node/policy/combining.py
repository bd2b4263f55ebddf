"""The policy: a node's rules combined — deny by default, permit-overrides (IDTA-01004).

An event leaves for a partner by a channel when at least one permit rule naming the partner
(or ``*``) with that right (or ``read``) matches it; a matching deny rule does not take it back
(it records a decision, and :meth:`Policy.explain` reports it). Nothing matches: nothing leaves.
Kaizen lessons leave the same way, by lesson rules (:meth:`Policy.share_lessons`,
:meth:`Policy.explain_lessons`; matching in :mod:`.lessons`).
:meth:`Policy.apply` puts the pieces together: which events the rules match
(:mod:`.matching`), what goes with each (:mod:`.shaping`), the daily totals of aggregate rules
(:mod:`.aggregates`) and the partner's pseudonyms (:mod:`.pseudonyms`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.ocel import Ocel
from keiretsu.node.policy.aggregates import aggregate
from keiretsu.node.policy.lessons import lesson_tests
from keiretsu.node.policy.lessons import matches as lesson_matches
from keiretsu.node.policy.lessons import withheld as withheld_parts
from keiretsu.node.policy.loading import read_rules, rules_from_dict
from keiretsu.node.policy.masterdata import share_master_data
from keiretsu.node.policy.matching import LogColumns
from keiretsu.node.policy.pseudonyms import (
    PSEUDONYM_PREFIX,
    Keyed,
    partner_key,
    pseudonym,
    pseudonymise,
)
from keiretsu.node.policy.rules import LESSONS, RIGHTS, Rule
from keiretsu.node.policy.shaping import merge, share_events

__all__ = ["Policy"]

_STR = pa.string()


@dataclass(frozen=True)
class Policy:
    """A node's sharing policy: its rules, in file order. Deny by default, permit-overrides."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a policy file (TOML, ``[[rule]]`` tables); :class:`PolicyError` if anything in
        it is not understood — a policy is used whole or not at all."""
        return cls(read_rules(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<policy>") -> Policy:
        """A policy from its parsed form (``{"rule": [{...}, ...]}``)."""
        return cls(rules_from_dict(data, source=source))

    @classmethod
    def deny_all(cls) -> Policy:
        """The policy of a node without a policy file: nothing leaves."""
        return cls(())

    def partners(self) -> set[str]:
        """The partners the rules name explicitly (``*`` is not a partner)."""
        return {s for rule in self.rules for s in rule.subjects if s != "*"}

    def _permits(self, partner: str, right: str) -> list[Rule]:
        if right not in RIGHTS:
            raise ValueError(f"unknown right {right!r}: expected one of {', '.join(RIGHTS)}")
        return [
            r for r in self.rules if r.effect == "permit" and r.names(partner) and r.grants(right)
        ]

    def _marks(self, partner: str) -> tuple[set[str], list[str], bool]:
        """What is pseudonymised for ``partner``: object types, id patterns, event ids. Taken
        from every permit rule naming the partner, whatever the channel, so an object never
        travels under its name by one channel and under a pseudonym by another."""
        types: set[str] = set()
        patterns: list[str] = []
        events = False
        for r in self.rules:
            if r.effect == "permit" and r.names(partner):
                types.update(r.pseudonymise)
                patterns.extend(r.pseudonymise_ids)
                events = events or r.pseudonymise_event_ids
        return types, patterns, events

    def event_name(self, event_id: str, partner: str, *, secret: bytes) -> str:
        """The id ``partner`` knows the event ``event_id`` by: its pseudonym where a rule for
        the partner pseudonymises event ids, else the id itself."""
        if self._marks(partner)[2]:
            return pseudonym(event_id, secret=secret, partner=partner)
        return event_id

    def event_names(self, event_ids: Sequence[str], partner: str, *, secret: bytes) -> list[str]:
        """:meth:`event_name` for many events at once (the key derived once)."""
        if not self._marks(partner)[2]:
            return list(event_ids)
        key = Keyed(partner_key(secret, partner))
        return [PSEUDONYM_PREFIX + key.digest(i) for i in event_ids]

    def candidate_types(self, partner: str, right: str) -> frozenset[str] | None:
        """The event types (activities) of every event that could leave for ``partner`` by
        ``right`` as an event — a superset, for a store to narrow what it hands to
        :meth:`apply` — or ``None`` when some permit rule names no event type or bizStep (any
        event may then match). Aggregate rules are not counted: their totals are pushed."""
        found: set[str] = set()
        for rule in self._permits(partner, right):
            if rule.share != "events":
                continue
            if rule.event_types is None and rule.biz_steps is None:
                return None
            if rule.event_types is not None and rule.biz_steps is not None:
                found.update(set(rule.event_types) & set(rule.biz_steps))
            else:
                found.update(rule.event_types or rule.biz_steps or ())
        return frozenset(found)

    def counts_totals(self, partner: str, right: str) -> bool:
        """Whether an aggregate rule counts events for ``partner`` by ``right`` — whether
        :meth:`apply` would read a ``history`` (the delivery fetches one only then)."""
        return any(r.share == "aggregate" for r in self._permits(partner, right))

    def fingerprint(self) -> str:
        """A digest of the rules: two policies with the same fingerprint share the same."""
        return hashlib.sha256(repr(self.rules).encode()).hexdigest()[:32]

    def apply(
        self,
        ocel: Ocel,
        partner: str,
        *,
        secret: bytes,
        right: str = "read",
        aggregates: bool = True,
        history: Ocel | None = None,
    ) -> Ocel:
        """What of ``ocel`` may leave this node for ``partner`` by ``right``: the permitted
        events with what their rules let go with them, pseudonymised as the policy says, plus
        the daily aggregates of aggregate rules (unless ``aggregates`` is false: the totals
        are pushed, never queried). ``source_events`` is always empty.

        The aggregates are the twin's own views (``keiretsu.analytics.inventory.daily_demand``,
        ``net_stock_change``) over the events the aggregate rules match, the stock ledger read
        over ``history`` and ``ocel``: ``history`` holds the node's events of the same goods
        (where an item was, what a pallet held; it may hold ``ocel``'s own events too, and
        its order breaks ties between events of one instant). Its other events are only read:
        none of them leaves or is counted. Without it, goods placed or packed before ``ocel``
        are not seen to leave.

        The relations of ``ocel`` must name objects it describes (``objects``): a relation to
        an object of unknown type is not shared.
        """
        permits = self._permits(partner, right)
        if not permits or ocel.num_events == 0:
            return Ocel()
        log = LogColumns(ocel)
        key = Keyed(partner_key(secret, partner))
        event_rules = [(r, log.matches(r)) for r in permits if r.share == "events"]
        shared = share_events(log, event_rules)
        totals = aggregate(
            log,
            [(r, log.matches(r)) for r in permits if r.share == "aggregate" and aggregates],
            key=key,
            history=history,
        )
        out = merge(shared, totals)
        types, patterns, event_ids = self._marks(partner)
        if types or patterns or event_ids:
            out = pseudonymise(out, ocel, types, patterns, event_ids, key)
        # master data only of what leaves under its own name, as the rules' master_data say
        return share_master_data(out, getattr(ocel, "master_data", ()), event_rules)

    def explain(self, ocel: Ocel, partner: str, right: str = "read") -> pa.Table:
        """Per event of ``ocel``, whether it leaves for ``partner`` by ``right`` and why:
        columns ``ocel_id``, ``ocel_type``, ``ocel_time``, ``permitted`` (leaves as an event),
        ``rule`` (the first permit rule that lets it), ``aggregated_by`` (the first aggregate
        rule that counts it), ``reason`` (for an event that does not leave: each rule's first
        test that failed, and the deny rules that matched)."""
        permits = self._permits(partner, right)
        log = LogColumns(ocel)
        n = log.n
        null = pa.nulls(n, _STR)
        rule_col, agg_col, reason = null, null, null
        permitted = pa.repeat(pa.scalar(False), n)
        for r in reversed(permits):  # the first rule in file order wins the column
            filters = log.filters(r)
            mask = pa.repeat(pa.scalar(True), n)
            why = null
            for label, passing in reversed(filters):
                why = pc.if_else(passing, why, pa.scalar(f"rule {r.id!r}: {label}", _STR))
            for _, passing in filters:
                mask = pc.and_(mask, passing)
            why = pc.if_else(mask, null, pc.fill_null(why, ""))
            reason = pc.if_else(
                pc.is_null(reason), why, pc.binary_join_element_wise(why, reason, "; ")
            )
            if r.share == "events":
                rule_col = pc.if_else(mask, pa.scalar(r.id, _STR), rule_col)
                permitted = pc.or_(permitted, mask)
            else:
                agg_col = pc.if_else(mask, pa.scalar(r.id, _STR), agg_col)
        if not permits:
            reason = pa.repeat(
                pa.scalar(f"no permit rule names partner {partner!r} with right {right!r}"), n
            )
        denies = [
            r for r in self.rules if r.effect == "deny" and r.names(partner) and r.grants(right)
        ]
        for r in reversed(denies):
            text = pa.scalar(f"denied by rule {r.id!r}", _STR)
            joined = pc.if_else(
                pc.is_null(reason), text, pc.binary_join_element_wise(text, reason, "; ")
            )
            reason = pc.if_else(log.matches(r), joined, reason)
        reason = pc.if_else(pc.or_(permitted, pc.is_valid(agg_col)), null, reason)
        return pa.table(
            {
                "ocel_id": log.ev_id,
                "ocel_type": log.ev_type,
                "ocel_time": log.ev_time,
                "permitted": permitted,
                "rule": rule_col,
                "aggregated_by": agg_col,
                "reason": reason,
            }
        )

    # --- lessons ---------------------------------------------------------------------------

    def share_lessons(
        self, lessons: Sequence[Mapping[str, Any]], partner: str
    ) -> list[dict[str, Any]]:
        """The lessons (documents of :func:`keiretsu.kaizen.lessons.lesson_of`) that may leave
        for ``partner``, in the order given: those a permit lesson rule naming the partner
        matches, each without the parts every matching permit rule withholds (``null``, and
        named under ``withheld``). Deny by default: no rule, no lesson."""
        permits = self._permits(partner, LESSONS)
        out: list[dict[str, Any]] = []
        for lesson in lessons:
            matching = [r for r in permits if lesson_matches(r, lesson)]
            if not matching:
                continue
            held = withheld_parts(matching)
            shaped = dict(lesson)
            for part in held:
                if part in shaped:
                    shaped[part] = None
            shaped["withheld"] = sorted(set(held) | set(lesson.get("withheld") or ()))
            out.append(shaped)
        return out

    def explain_lessons(
        self, lessons: Sequence[Mapping[str, Any]], partner: str
    ) -> list[dict[str, Any]]:
        """Per lesson, whether it leaves for ``partner`` and why: ``experiment_id``, ``title``,
        ``waste``, ``status``, ``leaves``, ``rule`` (the first permit rule that lets it),
        ``withheld`` (the parts that stay home), ``reason`` (for a lesson that does not leave:
        each lesson rule's first filter that failed, and the deny rules that matched)."""
        permits = self._permits(partner, LESSONS)
        denies = [
            r for r in self.rules if r.effect == "deny" and r.names(partner) and r.grants(LESSONS)
        ]
        out: list[dict[str, Any]] = []
        for lesson in lessons:
            matching = [r for r in permits if lesson_matches(r, lesson)]
            reasons: list[str] = [
                f"denied by rule {r.id!r}" for r in denies if lesson_matches(r, lesson)
            ]
            if not permits:
                reasons.append(f"no permit rule names partner {partner!r} with right 'lessons'")
            for r in permits:
                failed = next((label for label, ok in lesson_tests(r, lesson) if not ok), None)
                if failed is not None:
                    reasons.append(f"rule {r.id!r}: {failed}")
            out.append(
                {
                    "experiment_id": lesson.get("experiment_id"),
                    "title": lesson.get("title"),
                    "waste": lesson.get("waste"),
                    "status": lesson.get("status"),
                    "leaves": bool(matching),
                    "rule": matching[0].id if matching else None,
                    "withheld": list(withheld_parts(matching)) if matching else None,
                    "reason": None if matching else "; ".join(reasons),
                }
            )
        return out
