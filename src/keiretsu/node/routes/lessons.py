"""Kaizen lessons between nodes: what a partner may learn of this node's experiments, and the
lessons partners push here.

- ``GET /partners/lessons`` and ``GET /partners/lessons/{experiment_id}`` — a partner's signed
  request, answered on its **lesson view**: the node's own lessons
  (:func:`keiretsu.kaizen.lessons.lesson_of`) as the sharing policy's lesson rules let them
  leave for that partner (:meth:`keiretsu.node.policy.Policy.share_lessons`), computed whole
  before the question is looked at. A lesson hidden from the partner and one that does not
  exist are the same lookup in a view that holds neither: the same 404, the same work.
  Lessons received from partners are never in it (nothing is forwarded).
- ``POST /partners/lessons`` — a partner pushes the lessons it shares with this node (the
  delivery worker does it, signed, retried): checked whole (400 with problem details naming
  the first problem's place), kept under the sender's name (:func:`keiretsu.kaizen.lessons.
  receive`) — a partner cannot write under another's name, nor pass on another's lessons.
- ``GET /twin/policy/lessons?partner=`` — a local user: which of the node's lessons leave for
  a partner, and why or why not (:meth:`keiretsu.node.policy.Policy.explain_lessons`). (Asking
  "what was tried against …?" over the node's own experiments and what partners shared is
  ``GET /twin/kaizen/lessons``, :func:`keiretsu.kaizen.lessons.ask`.)
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.runtime import Node
from keiretsu.node.security import Principal, local_user, node_of, partner_node

__all__ = ["LESSONS_PATH", "lesson_state", "lesson_view", "router"]

LESSONS_PATH = "/partners/lessons"

router = APIRouter(tags=["Lessons"])


def lesson_view(node: Node, partner: str) -> list[dict[str, Any]]:
    """The lessons of this node's own experiments that may leave for ``partner`` under the
    current policy, oldest first, shaped as the lesson rules say (parts withheld). Received
    lessons are never part of it."""
    from keiretsu.kaizen.lessons import lessons_of

    own = lessons_of(node.cursor(), origin=node.name)
    return node.policy().share_lessons(own, partner)


def lesson_state(node: Node) -> str:
    """A fingerprint of everything a lesson is written from (the kaizen tables only grow) and
    of the policy: when it has not changed, no partner's lesson view has."""
    row = (
        node.cursor()
        .execute(
            "SELECT (SELECT count(*) FROM kaizen_experiment), (SELECT count(*) FROM kaizen_status),"
            " (SELECT count(*) FROM kaizen_note), (SELECT count(*) FROM kaizen_prediction),"
            " (SELECT count(*) FROM kaizen_measurement), (SELECT count(*) FROM kaizen_evidence)"
        )
        .fetchone()
    )
    return f"{row}:{node.policy().fingerprint()}"


class SharedLesson(BaseModel):
    """A lesson as it travels: an experiment's A3 aggregates (``keiretsu.kaizen.lessons``);
    parts the sharing policy withholds are null and named under ``withheld``."""

    model_config = ConfigDict(extra="allow")

    lesson: int = Field(description="the lesson document's version")
    experiment_id: str
    origin: str = Field(description="the node whose experiment it is")
    title: str
    status: str = Field(description="plan, simulated, running, checked, adopted or abandoned")
    status_at: str
    waste: str | None
    withheld: list[str] = Field(description="parts the sharing policy kept home")


class LessonList(BaseModel):
    """The lessons this node shares with the asking partner."""

    origin: str = Field(description="this node's name")
    count: int
    lessons: list[SharedLesson]


class LessonReport(BaseModel):
    """What keeping a partner's pushed lessons did."""

    source: str = Field(description="the partner, as this node knows it (the signer)")
    read: int = Field(description="lessons in the push")
    new: int = Field(description="new lessons, or changed copies (a new row each)")
    known: int = Field(description="identical to the copy already kept")


class LessonDecision(BaseModel):
    """Whether one of this node's lessons leaves for a partner, and why."""

    experiment_id: str
    title: str
    waste: str | None
    status: str
    leaves: bool
    rule: str | None = Field(description="the first permit rule that lets it leave")
    withheld: list[str] | None = Field(description="the parts that stay home")
    reason: str | None = Field(description="why it does not leave")


Name = Annotated[str | None, Query(max_length=200)]


@router.get(
    LESSONS_PATH,
    summary="The kaizen lessons this node shares with the asking partner (signed)",
    response_model=LessonList,
)
def partner_lessons(
    request: Request,
    waste: Name = None,
    status: Name = None,
    who: Principal = Depends(partner_node),
) -> LessonList:
    node = node_of(request)
    view = lesson_view(node, who.name)  # the whole view first: filters only see what it holds
    found = [
        lesson
        for lesson in view
        if (waste is None or lesson.get("waste") == waste)
        and (status is None or lesson.get("status") == status)
    ]
    return LessonList(
        origin=node.name, count=len(found), lessons=[SharedLesson(**x) for x in found]
    )


@router.get(
    LESSONS_PATH + "/{experiment_id}",
    summary="One kaizen lesson this node shares with the asking partner (signed)",
    response_model=SharedLesson,
)
def partner_lesson(
    experiment_id: str, request: Request, who: Principal = Depends(partner_node)
) -> SharedLesson:
    view = lesson_view(node_of(request), who.name)
    found = next((x for x in view if x.get("experiment_id") == experiment_id), None)
    if found is None:  # hidden or absent: one answer
        raise HTTPProblem(404, "No such lesson", f"no lesson {experiment_id!r}")
    return SharedLesson(**found)


@router.post(
    LESSONS_PATH,
    summary="A partner pushes the kaizen lessons it shares with this node (signed)",
    response_model=LessonReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"lessons": {"type": "array", "items": {"type": "object"}}},
                        "required": ["lessons"],
                    }
                }
            },
        }
    },
)
async def receive_lessons(request: Request, who: Principal = Depends(partner_node)) -> LessonReport:
    from keiretsu.kaizen.lessons import LessonError, receive

    node = node_of(request)
    body = await request.body()  # read already, under the route's size limit, and checked
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPProblem(400, "Lessons refused: not JSON", str(exc)) from exc
    lessons = document.get("lessons") if isinstance(document, dict) else None
    if not isinstance(lessons, list) or set(document) != {"lessons"}:
        raise HTTPProblem(
            400,
            "Lessons refused: not a lesson push",
            'expected a JSON object {"lessons": [...]} and nothing else',
            field="lessons",
        )
    try:
        report = await node.writer.run(lambda s: receive(s, who.name, lessons))
    except LessonError as exc:
        raise HTTPProblem(
            400, "Lessons refused: malformed lesson", str(exc), field=exc.field
        ) from exc
    return LessonReport(source=who.name, **report)


@router.get(
    "/twin/policy/lessons",
    tags=["Twin"],
    summary="Which of this node's lessons leave for a partner, and why",
    response_model=list[LessonDecision],
)
def explain_lessons(
    request: Request,
    partner: Annotated[str, Query(min_length=1, max_length=200)],
    who: Principal = Depends(local_user),
) -> list[LessonDecision]:
    from keiretsu.kaizen.lessons import lessons_of

    node = node_of(request)
    own = lessons_of(node.cursor(), origin=node.name)
    return [LessonDecision(**d) for d in node.policy().explain_lessons(own, partner)]
