"""Errors as RFC 7807 problem details (``application/problem+json``), as the EPCIS 2.0
binding asks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

_TYPES = {
    400: "epcisException:ValidationException",
    401: "epcisException:SecurityException",
    403: "epcisException:SecurityException",
    404: "epcisException:NoSuchNameException",
    405: "keiretsu:MethodNotAllowed",
    406: "epcisException:NotAcceptableException",
    409: "epcisException:ResourceAlreadyExistsException",
    413: "epcisException:QueryTooLargeException",
    415: "epcisException:UnsupportedMediaTypeException",
    500: "epcisException:ImplementationException",
    501: "epcisException:ImplementationException",
    503: "keiretsu:Unavailable",
}


class HTTPProblem(Exception):
    """Raise from a route to answer with a problem details document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type or _TYPES.get(status, "about:blank")
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return body


def problem_response(problem: HTTPProblem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _instance(request: Request) -> str:
    """The ``instance`` of a problem: the request's path, percent-encoded (a URI reference, as
    RFC 7807 wants it, whatever characters the path held)."""
    return quote(request.url.path, safe="/:@!$&'()*+,;=-._~")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details."""

    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        return problem_response(exc, _instance(request))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        problem = HTTPProblem(
            400,
            "Invalid request",
            f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request",
            field=where or None,
        )
        return problem_response(problem, _instance(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        problem = HTTPProblem(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )
        return problem_response(problem, _instance(request))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        problem = HTTPProblem(
            500, "Internal error", f"{type(exc).__name__}: the node could not answer this request"
        )
        return problem_response(problem, _instance(request))
