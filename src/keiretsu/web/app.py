"""The obeya's routes, mounted on a node's application under ``/obeya``.

:func:`mount` adds them to the node's FastAPI app (``keiretsu node serve`` does it). The node
itself is reached through ``app.state.node`` — the rooms ``node`` and ``web`` sit side by side
and do not import each other — and every request still passes the node's transport gate.

Pages (server-rendered, Jinja2; charts by the vendored Apache ECharts, live reloads by htmx
and server-sent events): ``/obeya/`` the network map, ``/obeya/vsm`` the value stream map,
``/obeya/process`` the process map, ``/obeya/waste`` the waste Pareto and its evidence,
``/obeya/trace`` an object's path, ``/obeya/inventory`` stock and bullwhip,
``/obeya/kaizen`` the kaizen board and each A3, ``/obeya/scenarios`` a pinned baseline and its
variants side by side, ``/obeya/partners`` what is shared with whom. Pages are computed in the
background and served stale-while-revalidate (:mod:`keiretsu.web.cache`).
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import StreamingResponse

from keiretsu.web import pages
from keiretsu.web.cache import Computed, PageCache, store_version
from keiretsu.web.live import Announcer
from keiretsu.web.login import FORM, FormLogin
from keiretsu.web.session import COOKIE, SESSION_SECONDS, Sessions

T = TypeVar("T")

PREFIX = "/obeya"
"""Where the obeya lives on the node."""

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
"""The pages' Content-Security-Policy: nothing from elsewhere, no inline script."""

NAV = [
    ("overview", "/obeya/", "Network"),
    ("vsm", "/obeya/vsm", "Value stream"),
    ("process", "/obeya/process", "Process map"),
    ("waste", "/obeya/waste", "Waste"),
    ("inventory", "/obeya/inventory", "Inventory"),
    ("scenarios", "/obeya/scenarios", "Scenarios"),
    ("kaizen", "/obeya/kaizen", "Kaizen"),
    ("partners", "/obeya/partners", "Partners"),
]


class Obeya:
    """What the obeya keeps while the node runs: its sessions, its event announcer, and the
    pages last computed (:attr:`pages`, a :class:`~keiretsu.web.cache.PageCache`)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.sessions = Sessions(node.tokens, path=_sessions_path(node))
        self.announcer = Announcer()
        node.on_accepted.append(self.announcer.accepted)
        home = _home(node)
        self.pages = PageCache(
            self.version,
            self._open_log,
            folder=None if home is None else home / "obeya" / "pages",
            busy=getattr(node, "busy", None),
        )
        node.on_accepted.append(lambda ingest_id, source: self.pages.refresh())
        self._curve_lock = threading.Lock()
        self._curve: tuple[Any, Any] | None = None
        self._summary_lock = threading.Lock()
        self._summary: tuple[Any, Any] | None = None
        self._local = threading.local()
        self._cursor_lock = threading.Lock()

    def version(self) -> tuple[Any, ...]:
        """What the pages depend on: the last document stored, the experiments' last moves."""
        return store_version(self.cursor())

    def cursor(self) -> Any:
        """A read cursor of the obeya's own for the calling thread."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._cursor_lock:
                cursor = self._local.cursor = self.node.store.con.cursor()
        return cursor

    def _open_log(self) -> Any:
        from keiretsu.analytics import Log

        return Log.from_connection(self.node.store.con.cursor())

    def summary(self, build: Callable[[], T]) -> T:
        """``build()`` for what the store holds (the live counts every open page reloads after
        each capture), once per state of the store: with a million events the counts take
        about a second, and every browser asks at the same moment."""
        with self._summary_lock:
            version = self.version()
            if self._summary is None or self._summary[0] != version:
                self._summary = (version, build())
            return cast(T, self._summary[1])

    def curve(self, build: Callable[[Any], T]) -> T:
        """``build(log)`` for the improvement curve, once per state of the store, on a log of
        its own: it reads the waste of every period, which takes long, and the other pages
        do not wait for it."""
        from keiretsu.analytics import Log

        with self._curve_lock:
            version = self.version()
            if self._curve is None or self._curve[0] != version:
                self._curve = (version, build(Log.from_connection(self.cursor())))
            return cast(T, self._curve[1])


def _headers(response: Response, request: Request | None = None) -> Response:
    """The pages' security headers, and ``Server-Timing: app;dur=<ms>`` (the time spent in
    the handler, in milliseconds) where the request's start was noted."""
    started = None if request is None else request.scope.get(_STARTED)
    if started is not None:
        spent = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f'app;dur={spent:.1f};desc="obeya page"'
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def mount(app: FastAPI, *, warm: bool = True) -> None:
    """Add the obeya to the node application ``app`` (whose ``app.state.node`` is the running
    node). ``warm``: compute the main pages in the background at once (and again after each
    accepted document), so nobody waits for the analytics."""
    node = app.state.node
    obeya = Obeya(node)
    app.state.obeya = obeya
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["nav"] = NAV
    templates.env.filters["short"] = pages.short
    templates.env.filters["duration"] = pages._duration
    templates.env.filters["num"] = _num
    templates.env.filters["quote"] = lambda s: quote(str(s), safe="")
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(HERE / "static")), name="obeya-static")

    def user_of(request: Request) -> str | None:
        return obeya.sessions.user(request.cookies.get(COOKIE))

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return _headers(RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303))

    def render(
        request: Request, template: str, page: str, status: int = 200, **context: Any
    ) -> Response:
        context.update(request=request, page=page, node=node.name, user=user_of(request))
        context.setdefault("computed", None)
        response = templates.TemplateResponse(request, template, context, status_code=status)
        _headers(response, request)
        computed = context["computed"]
        if computed is not None:  # how long the page shown took to compute, in the background
            response.headers["Server-Timing"] += (
                f', compute;dur={computed.seconds * 1000:.0f};desc="computed in the background"'
            )
        return response

    def page(
        name: str, template: str, build: Callable[[Request, Any], dict[str, Any]]
    ) -> Callable[[Request], Response]:
        """A page for logged-in users: ``build(request, log)`` gives its context."""

        def handler(request: Request) -> Response:
            request.scope[_STARTED] = time.perf_counter()
            if user_of(request) is None:
                return to_login(request)
            key = (template, request.url.path, str(request.url.query))
            computed: Computed | None = None
            try:
                if name in _DIRECT:  # read from small tables at once: never stale, never queued
                    context = _guarded(name, build, request, None)
                else:
                    computed = obeya.pages.get(
                        key, functools.partial(_guarded, name, build, request)
                    )
                    if computed is None:
                        return render(
                            request, "computing.html", name, 202, seconds=obeya.pages.wait
                        )
                    context = computed.result()
                if context is None:
                    return render(request, "empty.html", name)
            except _BadRequest as exc:
                return render(request, "error.html", name, 400, message=str(exc))
            except LookupError as exc:
                return render(request, "error.html", name, 404, message=str(exc))
            except ValueError as exc:
                return render(request, "error.html", name, 400, message=str(exc))
            return render(request, template, name, computed=computed, **context)

        return handler

    def followed(request: Request, log: Any) -> tuple[str, list[str]]:
        types = list(log.object_types())
        chosen = request.query_params.get("object_type") or pages.main_type(log)
        if chosen not in types:
            raise _BadRequest(f"object_type {chosen!r} is not in this log; types: {types}")
        return chosen, types

    # --- login ---------------------------------------------------------------------------

    @app.get(f"{PREFIX}/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        return render(request, "login.html", "login", next=_safe_next(request))

    app.add_middleware(FormLogin, path=f"{PREFIX}/login")  # outside the gate: see web/login

    @app.post(f"{PREFIX}/login", include_in_schema=False)
    def login(request: Request) -> Response:
        """Log in with a local token in ``Authorization: Bearer kt_…`` (no body): sent by the
        login page's script (answered 204), or put there from the form posted without
        JavaScript by :class:`~keiretsu.web.login.FormLogin` (answered 303 to ``next``, or
        the login page again saying what was wrong)."""
        gate = request.scope.get("keiretsu.gate")
        authorization = request.headers.get("authorization")
        peer = request.client.host if request.client else None
        form: str | None = request.scope.get(FORM)
        status = 401
        if gate is not None:
            try:
                caller = gate.admit(request.scope)  # 401 or 429, counted and audited
            except Exception as exc:  # the gate's problem (node's HTTPProblem)
                if form is None or not isinstance(getattr(exc, "status", None), int):
                    raise
                # refused by the gate: already counted against the address
                kind, label, status = "none", None, int(getattr(exc, "status", 401))
            else:
                kind, label = caller.kind, caller.name
        else:  # an application without the gate (tests in process)
            label = node.tokens.check(_bearer(authorization) or "")
            kind = "local" if label else "none"
        if kind != "local" or label is None:
            if gate is not None and kind != "none":
                gate.failed(request.scope)
            node.audit.write("obeya-login", "refused", reason=kind, peer=peer, subject=label)
            status = 403 if kind == "partner" else status
            if form is not None:
                why = (
                    "Too many failed attempts from here: wait a while."
                    if status == 429
                    else "That token is not one of this node's local users' tokens."
                )
                return render(
                    request,
                    "login.html",
                    "login",
                    status,
                    next=_safe_next_value(form or f"{PREFIX}/"),
                    error=why,
                )
            return _headers(
                JSONResponse(
                    {"detail": "the obeya is for this node's own users: log in with a kt_ token"},
                    status_code=status,
                )
            )
        sid = obeya.sessions.open(label, _bearer(authorization) or "")
        node.audit.write("obeya-login", "allowed", subject=label, peer=peer)
        response = _headers(
            Response(status_code=204)
            if form is None
            else RedirectResponse(_safe_next_value(form or f"{PREFIX}/"), status_code=303)
        )
        response.set_cookie(
            COOKIE,
            sid,
            max_age=SESSION_SECONDS,
            path=PREFIX,
            secure=True,
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post(f"{PREFIX}/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        obeya.sessions.close(request.cookies.get(COOKIE))
        response = _headers(RedirectResponse(f"{PREFIX}/login", status_code=303))
        response.delete_cookie(COOKIE, path=PREFIX, secure=True, httponly=True, samesite="strict")
        return response

    @app.get(PREFIX, include_in_schema=False)
    def home() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    # --- pages ---------------------------------------------------------------------------

    def overview(request: Request, log: Any) -> dict[str, Any]:
        return {"data": pages.overview(log, node=node.name, partners=sorted(node.partners()))}

    def vsm(request: Request, log: Any) -> dict[str, Any]:
        chosen, types = followed(request, log)
        return {"data": pages.value_stream(log, chosen), "object_type": chosen, "types": types}

    def process(request: Request, log: Any) -> dict[str, Any]:
        chosen, types = followed(request, log)
        return {"data": pages.process(log, chosen), "object_type": chosen, "types": types}

    def waste(request: Request, log: Any) -> dict[str, Any]:
        return {"data": pages.wastes(log)}

    def trace(request: Request, log: Any) -> dict[str, Any]:
        wanted = request.query_params.get("object", "").strip()
        if not wanted:
            raise _BadRequest("say which object: ?object=<an SSCC, a lot, an order…>")
        found = pages.trace(log, wanted, node=node.name)
        if found is None:
            raise LookupError(f"this node knows no object {wanted!r}")
        return {"data": found}

    def inventory(request: Request, log: Any) -> dict[str, Any]:
        return {"data": pages.inventory(log)}

    def kaizen(request: Request, log: Any) -> dict[str, Any]:
        from keiretsu.web import board

        return {"data": board.board(obeya.cursor())}

    def partners(request: Request, log: Any) -> dict[str, Any]:
        from keiretsu.web.partners import partners_page

        return {"data": partners_page(node)}

    main_pages = [
        ("/", "overview", "overview.html", overview),
        ("/vsm", "vsm", "vsm.html", vsm),
        ("/waste", "waste", "waste.html", waste),
        ("/process", "process", "process.html", process),
        ("/inventory", "inventory", "inventory.html", inventory),
    ]
    if warm:  # the scenario module's imports (a second), off the first request's path
        threading.Thread(
            target=importlib.import_module,
            args=("keiretsu.sim.scenario",),
            name="obeya-imports",
            daemon=True,
        ).start()
    if warm:  # computed in the background now, and again after each accepted document
        obeya.pages.refresh(
            [
                ((template, PREFIX + path, ""), functools.partial(_guarded, name, build, _NO_QUERY))
                for path, name, template, build in main_pages
            ]
        )

    for path, name, template, build in [
        ("/", "overview", "overview.html", overview),
        ("/vsm", "vsm", "vsm.html", vsm),
        ("/process", "process", "process.html", process),
        ("/waste", "waste", "waste.html", waste),
        ("/trace", "waste", "trace.html", trace),
        ("/inventory", "inventory", "inventory.html", inventory),
        ("/kaizen", "kaizen", "kaizen.html", kaizen),
        ("/partners", "partners", "partners.html", partners),
    ]:
        app.add_api_route(
            PREFIX + path,
            page(name, template, build),
            methods=["GET"],
            include_in_schema=False,
            response_class=HTMLResponse,
        )

    @app.get(PREFIX + "/waste/{name}", include_in_schema=False)
    def waste_evidence(request: Request, name: str) -> Response:
        from keiretsu.analytics.waste import WASTES

        if name not in WASTES:  # said at once, nothing computed
            request.scope[_STARTED] = time.perf_counter()
            if user_of(request) is None:
                return to_login(request)
            message = f"no waste {name!r}: the wastes are {', '.join(WASTES)}"
            return render(request, "error.html", "waste", 404, message=message)

        def build(request: Request, log: Any) -> dict[str, Any]:
            return {"data": pages.evidence(log, name)}

        return page("waste", "evidence.html", build)(request)

    @app.get(PREFIX + "/kaizen/{experiment_id}", include_in_schema=False)
    def a3_page(request: Request, experiment_id: str) -> Response:
        from keiretsu.web import board

        def build(request: Request, log: Any) -> dict[str, Any]:
            return {"data": board.a3_page(obeya.cursor(), experiment_id)}

        return page("kaizen", "a3.html", build)(request)

    @app.get(PREFIX + "/kaizen-curve", include_in_schema=False)
    def kaizen_curve(request: Request) -> Response:
        """The improvement curve (a fragment the board loads once it is shown: it reads the
        waste of every period, which takes a while)."""
        if user_of(request) is None:
            return _headers(Response(status_code=401))
        from keiretsu.web import board

        svg, note = obeya.curve(lambda log: board.curve(obeya.cursor(), log))
        return render(request, "_curve.html", "kaizen", svg=svg, note=note)

    # --- scenarios -----------------------------------------------------------------------

    from keiretsu.web.scenarios import BASELINES, ScenarioFormError, Scenarios, side_by_side

    home_root = getattr(getattr(node, "home", None), "root", None)
    scenarios = Scenarios(Path(home_root) if home_root else Path("."), node.store)
    app.state.obeya_scenarios = scenarios

    @app.get(PREFIX + "/scenarios", include_in_schema=False)
    def scenarios_page(request: Request) -> Response:
        """The pinned comparison (or the one asked for, ``?run=``, or the newest) side by
        side, the comparisons kept, and the form to run one."""
        request.scope[_STARTED] = time.perf_counter()
        if user_of(request) is None:
            return to_login(request)
        return _scenarios_view(request, request.query_params.get("run"))

    def _scenarios_view(
        request: Request, run_id: str | None, status: int = 200, error: str | None = None
    ) -> Response:
        runs = scenarios.runs()
        pinned = scenarios.pinned()
        shown_id = run_id or pinned or next((r["id"] for r in runs if r["status"] == "done"), None)
        shown = None
        if shown_id is not None:
            try:
                shown = scenarios.run(shown_id)
            except LookupError as exc:
                return render(request, "error.html", "scenarios", 404, message=str(exc))
        return render(
            request,
            "scenarios.html",
            "scenarios",
            status,
            files=scenarios.files(),
            folder=str(scenarios.folder),
            runs=runs,
            pinned=pinned,
            shown=shown,
            view=side_by_side(shown) if shown and shown["status"] == "done" else None,
            baselines=BASELINES,
            error=error,
            form=dict(request.query_params),
        )

    def _form(request: Request) -> dict[str, list[str]]:
        """The fields of a form sent in the query string: the node's gate reads no body of a
        request without an ``Authorization`` header (a session's requests have none)."""
        return parse_qs(str(request.url.query), max_num_fields=200)

    def _same_origin(request: Request) -> bool:
        """No other site's page posted this (besides the cookie's ``SameSite=Strict``). A
        form's post says ``Origin: null`` under the pages' ``no-referrer`` policy."""
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return True
        return urlsplit(origin).netloc == request.headers.get("host")

    @app.get(PREFIX + "/scenarios/run", include_in_schema=False)
    def scenarios_confirm(request: Request) -> Response:
        """The comparison the form asks for, to confirm with a button (the form's answer in a
        browser without JavaScript: a GET changes nothing)."""
        request.scope[_STARTED] = time.perf_counter()
        if user_of(request) is None:
            return to_login(request)
        try:
            asked = scenarios.check(_form(request))
        except ScenarioFormError as exc:
            return _scenarios_view(request, None, 400, str(exc))
        return render(
            request,
            "scenario_confirm.html",
            "scenarios",
            asked=asked,
            query=str(request.url.query),
            baselines=BASELINES,
        )

    @app.post(PREFIX + "/scenarios/run", include_in_schema=False)
    def scenarios_run(request: Request) -> Response:
        """Run a comparison of a scenario file (fields in the query string: ``file``,
        ``variant`` (repeated), ``baseline``, ``replications``, ``periods``, ``seed``):
        answered with a redirect to the comparison's page, which shows it running until it
        is done."""
        request.scope[_STARTED] = time.perf_counter()
        user = user_of(request)
        if user is None or not _same_origin(request):
            return _headers(Response(status_code=401 if user is None else 403))
        try:
            asked = scenarios.check(_form(request))
        except ScenarioFormError as exc:
            return _scenarios_view(request, None, 400, str(exc))
        run_id = scenarios.start(asked, by=user)
        node.audit.write("obeya-scenario", "started", subject=user, detail=run_id)
        return _headers(RedirectResponse(f"{PREFIX}/scenarios?run={run_id}", status_code=303))

    @app.post(PREFIX + "/scenarios/pin", include_in_schema=False)
    def scenarios_pin(request: Request) -> Response:
        """Pin a finished comparison (``?run=``) as the baseline the page opens with."""
        request.scope[_STARTED] = time.perf_counter()
        user = user_of(request)
        if user is None or not _same_origin(request):
            return _headers(Response(status_code=401 if user is None else 403))
        run_id = ((_form(request).get("run")) or [""])[0]
        try:
            scenarios.pin(run_id, by=user)
        except LookupError as exc:
            return render(request, "error.html", "scenarios", 404, message=str(exc))
        except ScenarioFormError as exc:
            return _scenarios_view(request, run_id, 400, str(exc))
        node.audit.write("obeya-scenario", "pinned", subject=user, detail=run_id)
        return _headers(RedirectResponse(f"{PREFIX}/scenarios", status_code=303))

    # --- live ----------------------------------------------------------------------------

    @app.get(PREFIX + "/live/counts", include_in_schema=False)
    def counts(request: Request) -> Response:
        """What the store holds now (a fragment the pages reload on each capture)."""
        request.scope[_STARTED] = time.perf_counter()
        if user_of(request) is None:
            return _headers(Response(status_code=401))
        from keiretsu.store import Store

        summary = obeya.summary(lambda: Store.summary_of(obeya.cursor(), node.store.path))
        return render(request, "_counts.html", "counts", summary=summary.to_dict())

    @app.get(PREFIX + "/events", include_in_schema=False)
    async def events(request: Request) -> Response:
        """Server-sent events: ``capture`` each time the node accepts a document."""
        if user_of(request) is None:
            return _headers(Response(status_code=401))
        last = request.headers.get("last-event-id", "").strip()

        def latest() -> int | None:
            found = obeya.cursor().execute(
                "SELECT max(ingest_id) FROM ingest_log WHERE status = 'accepted'"
            )
            value = found.fetchall()[0][0]
            return None if value is None else int(value)

        response = StreamingResponse(
            obeya.announcer.stream(
                request.is_disconnected,
                heard=int(last) if last.isdigit() else None,
                latest=latest,
            ),
            media_type="text/event-stream",
        )
        response.headers["X-Accel-Buffering"] = "no"
        return _headers(response)


_DIRECT = frozenset({"kaizen", "partners"})
"""Pages read on each request from a few rows (the experiments and their moves; the policy,
partners and outbox), not through the page cache: they are always current, and never wait in
the background worker's queue behind the analytics of a large log (a million events: minutes)."""

_STARTED = "keiretsu.obeya.started"
"""Where a request's start (``time.perf_counter()``) is noted for its ``Server-Timing``."""


def _home(node: Any) -> Path | None:
    """The node home's folder (None for a node without one)."""
    root = getattr(getattr(node, "home", None), "root", None)
    return None if root is None else Path(root)


def _sessions_path(node: Any) -> Path | None:
    home = _home(node)
    return None if home is None else home / "obeya-sessions.json"


def _guarded(
    name: str, build: Callable[[Request, Any], dict[str, Any]], request: Request, log: Any
) -> dict[str, Any] | None:
    """The page's context, or None when the log holds no events (the kaizen board and the
    partners page are shown all the same)."""
    if log is not None and name != "kaizen" and int(log.events.count().execute()) == 0:
        return None
    return build(request, log)


class _NoQuery:
    """A request without a query string (what the warm-up computes the pages for)."""

    query_params: dict[str, str] = {}  # noqa: RUF012


_NO_QUERY: Any = _NoQuery()


class _BadRequest(ValueError):
    """A page asked for something the log does not have (400)."""


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _safe_next(request: Request) -> str:
    """Where to go after login: a path of the obeya only (never another site)."""
    return _safe_next_value(request.query_params.get("next", f"{PREFIX}/"))


def _safe_next_value(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
        return f"{PREFIX}/"
    return target


def _num(value: Any, digits: int = 1) -> str:
    """A number for a table cell: thousands separated, ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:,.{digits}f}"
    return str(value)
