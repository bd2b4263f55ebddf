"""Errors for people: what was wrong, where, and what was expected.

Every refusal of input is a :class:`DocumentError`, shaped like an RFC 7807 *problem details*
object so the CLI prints it, the HTTP API returns it as ``application/problem+json``, and the
ingest log stores it, all from the same fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROBLEM_BASE = "https://keiretsu.dev/problems/"


@dataclass
class Problem:
    """One thing wrong with a document.

    ``document``: the file name or capture job the document came from.
    ``event_index``: 0-based position of the event in the document's event list, if any.
    ``field``: where in the document, as a JSON pointer (``/epcisBody/eventList/3/action``) for
    JSON or an XPath (``/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[4]/action``) for XML.
    ``expected``: what the standard expects there, in words.
    ``line``: 1-based line in the file, where the parser knows it.
    """

    title: str
    detail: str
    type: str = "invalid-document"
    document: str | None = None
    event_index: int | None = None
    field: str | None = None
    expected: str | None = None
    line: int | None = None
    status: int = 400

    def to_dict(self) -> dict[str, Any]:
        """RFC 7807 problem details (``type`` as an absolute URI), with extension members."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["type"] = self.type if "://" in self.type else PROBLEM_BASE + self.type
        return data

    def __str__(self) -> str:
        where = []
        if self.document:
            where.append(self.document)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.event_index is not None:
            where.append(f"event {self.event_index}")
        if self.field:
            where.append(self.field)
        text = f"{self.title}: {self.detail}"
        if self.expected:
            text += f" (expected {self.expected})"
        return f"{', '.join(where)}: {text}" if where else text


@dataclass
class DocumentError(Exception):
    """A document was refused. Nothing of it was stored.

    Carries one or more :class:`Problem` s; ``str()`` gives the first, for a log line.
    """

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __reduce__(self) -> tuple[type[DocumentError], tuple[list[Problem]]]:
        # pickled whole (a refusal found by a reader process reaches the writer intact)
        return (type(self), (self.problems,))

    @classmethod
    def single(cls, title: str, detail: str, **where: Any) -> DocumentError:
        """A refusal with one problem."""
        return cls([Problem(title=title, detail=detail, **where)])

    def with_document(self, document: str) -> DocumentError:
        """Fill in the document name on problems that lack it; returns self."""
        for p in self.problems:
            if p.document is None:
                p.document = document
        self.args = (str(self),)
        return self

    def to_dict(self) -> dict[str, Any]:
        """RFC 7807 problem details: the first problem at top level, all under ``problems``."""
        if not self.problems:
            return Problem(title="Invalid document", detail="refused").to_dict()
        data = self.problems[0].to_dict()
        if len(self.problems) > 1:
            data["problems"] = [p.to_dict() for p in self.problems]
        return data

    def __str__(self) -> str:
        if not self.problems:
            return "document refused"
        text = str(self.problems[0])
        if len(self.problems) > 1:
            text += f" (and {len(self.problems) - 1} more problem(s))"
        return text
