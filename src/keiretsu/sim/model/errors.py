"""Why a network model was refused: the project's one error shape, for model files.

A model file is used whole or not at all. Every problem found is reported at once, each naming
the file, the table or entry (``company[1] (umeda-dc).buffer[0]``), the key, and what was
expected there — the same :class:`~keiretsu.model.errors.Problem` every reader of the project
raises, so the CLI and the HTTP API print it the same way.
"""

from __future__ import annotations

from keiretsu.model.errors import DocumentError, Problem

__all__ = ["ModelError", "model_problem"]

TITLE = "Invalid network model"


class ModelError(DocumentError):
    """A network model that cannot be used; ``problems`` says every place and what to write."""


def model_problem(where: str, pointer: str, detail: str, expected: str | None = None) -> Problem:
    """One problem at ``where`` (the entry in words) and ``pointer`` (``/company/1/buffer/0``)."""
    return Problem(
        title=TITLE,
        detail=f"{where}: {detail}" if where else detail,
        type="invalid-network-model",
        field=pointer or "/",
        expected=expected,
    )
