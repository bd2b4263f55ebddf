"""The one exception of the query interface: :class:`QueryError`."""

from __future__ import annotations

__all__ = ["QueryError"]


class QueryError(ValueError):
    """A query the twin cannot answer, naming the parameter at fault.

    ``kind`` is ``"parameter"`` (the standard's ``QueryParameterException``: an unknown
    parameter, a bad value — the HTTP binding answers 400) or ``"too_large"``
    (``QueryTooLargeException``: more events than ``maxEventCount`` allows — 413).
    """

    def __init__(
        self, parameter: str, detail: str, *, expected: str | None = None, kind: str = "parameter"
    ) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail
        self.expected = expected
        self.kind = kind

    @property
    def exception(self) -> str:
        """The EPCIS exception name: ``QueryParameterException`` or ``QueryTooLargeException``."""
        return "QueryTooLargeException" if self.kind == "too_large" else "QueryParameterException"
