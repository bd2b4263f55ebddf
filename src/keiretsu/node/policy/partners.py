"""A policy against the node's partners: the mistakes that make a node share nothing in silence.

A policy may name any subject; only a subject that is a partner of the node (in its
``partners.toml``) ever receives anything. A rule naming ``umeda-distribution`` on a node whose
partner is ``umeda-dc`` is valid and shares nothing — :func:`policy_notes` says so, with the
partner's name it probably meant. A partner the policy newly permits is not sent what was
recorded before the change (those documents went out as the former policy allowed, or not at
all): :func:`newly_permitted` names such partners, so that the caller can say how to send them
the history.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass

from keiretsu.node.policy.combining import Policy
from keiretsu.node.policy.rules import EVENT_RIGHTS

__all__ = ["SubjectNote", "newly_permitted", "permitted_partners", "policy_notes"]


@dataclass(frozen=True)
class SubjectNote:
    """A subject a rule names that is not a partner of the node: nothing leaves for it."""

    rule: str
    subject: str
    partners: tuple[str, ...]
    meant: str | None  # the partner's name it most resembles, if any

    def __str__(self) -> str:
        known = ", ".join(self.partners) if self.partners else "none yet"
        text = (
            f"rule {self.rule!r} names {self.subject!r}, which is not a partner of this node "
            f"(its partners: {known}): nothing leaves for {self.subject!r}."
        )
        if self.meant:
            text += f" Did you mean {self.meant!r}?"
        return text + (
            " Correct the rule's subjects, or add the partner first "
            "(`keiretsu node partner add NAME URL KEY`)."
        )


def policy_notes(policy: Policy, partners: Collection[str]) -> list[SubjectNote]:
    """Every (rule, subject) where the rule names a subject that is not one of ``partners``
    (``*`` names every partner and is never noted), in file order."""
    known = tuple(sorted(partners))
    notes: list[SubjectNote] = []
    for rule in policy.rules:
        for subject in rule.subjects:
            if subject == "*" or subject in partners:
                continue
            close = difflib.get_close_matches(subject, known, n=1, cutoff=0.5)
            meant = close[0] if close else _shared_prefix(subject, known)
            notes.append(SubjectNote(rule.id, subject, known, meant))
    return notes


def _shared_prefix(subject: str, partners: tuple[str, ...]) -> str | None:
    """A partner whose name starts like ``subject`` (``umeda-distribution`` → ``umeda-dc``)."""
    head = subject.split("-")[0]
    found = [p for p in partners if p.split("-")[0] == head]
    return found[0] if len(found) == 1 else None


def permitted_partners(policy: Policy, partners: Collection[str]) -> set[str]:
    """The partners for which some permit rule lets something leave (events or totals, by any
    event channel; lesson rules aside)."""
    return {
        p
        for p in partners
        for r in policy.rules
        if r.effect == "permit" and r.names(p) and any(r.grants(x) for x in EVENT_RIGHTS)
    }


def newly_permitted(previous: Policy, policy: Policy, partners: Collection[str]) -> list[str]:
    """The partners ``policy`` lets something leave for and ``previous`` did not, sorted."""
    return sorted(permitted_partners(policy, partners) - permitted_partners(previous, partners))
