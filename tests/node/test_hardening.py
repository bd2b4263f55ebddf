"""The node's transport as an attacker meets it (issue 9, findings 7, 9, 10, 11, 12).

Where the finding is about the server, a real node process on loopback is attacked with raw
sockets (so that we control exactly which bytes are sent, and when); elsewhere the application
runs in process. Each test failed on the code before the fix.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import psutil
import pytest
from _nodes import NodeProcess, make_node
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.node.app import create_app
from keiretsu.node.auth import AuditLog, TokenStore, sign_request
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.runtime import CAPTURE_SIZE_LIMIT, Node
from keiretsu.node.transport import (
    DEFAULT_BODY_LIMIT,
    INBOX_SIZE_LIMIT,
    FailureLimiter,
    TransportLimits,
    address_key,
)

MiB = 1024 * 1024
PARTNER = Identity.create("dc")  # a partner of every node made here
STRANGER = Identity.create("dc")  # the same name, another key


def _start(tmp: Path, name: str, *args: str) -> NodeProcess:
    node = make_node(tmp, name)
    node.home.add_partner(PARTNER.name, "http://127.0.0.1:9", PARTNER.public_key_text)
    node.extra_args = list(args)
    return node.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One real node process for the tests that do not restart it or change its limits."""
    node = _start(tmp_path_factory.mktemp("hardening"), "plant")
    yield node
    node.kill()


def _head(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _connect(port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers, body of the answer on ``sock``, and whether the server then closed the
    connection (raises TimeoutError if no whole answer arrives in the socket's timeout)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed without an answer: {data!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        rest += piece
    try:
        closed = sock.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        closed = False
    return int(status_line.split()[1]), headers, rest[:length], closed


def _problem(body: bytes) -> dict[str, Any]:
    problem: dict[str, Any] = json.loads(body)
    assert {"type", "title", "status", "detail"} <= set(problem)
    return problem


# --- finding 7: authenticate before reading the body -----------------------------------------


def _bad_tokens() -> dict[str, str]:
    return {
        "three dots": "a.b.c",
        "a stranger's signature": sign_request(
            STRANGER, audience="plant", method="POST", path="/partners/inbox"
        ),
        "unknown local token": "kt_" + "A" * 43,
    }


@pytest.mark.parametrize("route", ["/capture", "/partners/inbox", "/queries"])
@pytest.mark.parametrize("kind", list(_bad_tokens()))
def test_a_refused_token_is_answered_before_the_body_is_sent(
    server: NodeProcess, route: str, kind: str
) -> None:
    # 200 MB announced, 64 KiB sent: the answer comes anyway, and the connection is closed so
    # the rest is never read
    token = _bad_tokens()[kind]
    head = _head(
        "POST",
        route,
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Length": str(200_000_000),
        },
    )
    with _connect(server.port, timeout=5) as sock:
        sock.sendall(head + b"x" * 65536)
        status, headers, body, closed = _answer(sock)
    assert status == 401
    assert _problem(body)["status"] == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert closed


def test_a_partner_on_a_local_route_is_refused_before_its_body_is_sent(
    server: NodeProcess,
) -> None:
    # a good signature, the wrong kind of caller: 403 at once, the token not used up
    token = sign_request(PARTNER, audience="plant", method="POST", path="/capture")
    head = _head(
        "POST",
        "/capture",
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Length": str(200_000_000),
        },
    )
    with _connect(server.port, timeout=5) as sock:
        sock.sendall(head + b"x" * 65536)
        status, _, body, closed = _answer(sock)
    assert (status, closed) == (403, True)
    assert _problem(body)["detail"] == "partners may not use this resource"


def _stream(port: int, head: bytes, total: int, chunk: int = MiB) -> tuple[int, bytes]:
    """Send ``head`` then a chunked body of ``total`` bytes until the server stops taking it;
    the bytes it took and what it answered."""
    sent = 0
    answer = b""
    with _connect(port, timeout=10) as sock:
        sock.sendall(head)
        piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        try:
            while sent < total:
                sock.sendall(piece)
                sent += chunk
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (TimeoutError, ConnectionResetError):
            pass
    return sent, answer


def test_large_bodies_with_bad_tokens_do_not_grow_the_node(server: NodeProcess) -> None:
    # the finding: three 200 MB bodies with `Bearer a.b.c` took the node from 289 MB to 1.1 GB
    assert server.proc is not None
    process = psutil.Process(server.proc.pid)
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.01)

    head = _head(
        "POST",
        "/partners/inbox",
        {
            "Authorization": "Bearer a.b.c",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    results: list[tuple[int, bytes]] = []
    watcher = threading.Thread(target=watch)
    senders = [
        threading.Thread(target=lambda: results.append(_stream(server.port, head, 60 * MiB)))
        for _ in range(3)
    ]
    watcher.start()
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    done.set()
    watcher.join()
    for sent, answer in results:
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert sent < 20 * MiB  # the node stopped taking the body (what was sent sat in buffers)
    assert peak[0] - before < 40 * MiB, f"grew {(peak[0] - before) / MiB:.0f} MiB"


def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(
    server: NodeProcess,
) -> None:
    cases = [
        ("/capture", f"Bearer {server.token}", CAPTURE_SIZE_LIMIT + 1),
        ("/queries", f"Bearer {server.token}", DEFAULT_BODY_LIMIT + 1),
        (
            "/partners/inbox",
            "Bearer "
            + sign_request(PARTNER, audience="plant", method="POST", path="/partners/inbox"),
            INBOX_SIZE_LIMIT + 1,
        ),
    ]
    for route, authorization, size in cases:
        head = _head(
            "POST",
            route,
            {
                "Authorization": authorization,
                "Content-Type": "application/json",
                "Content-Length": str(size),
            },
        )
        with _connect(server.port, timeout=5) as sock:
            sock.sendall(head)
            status, _, body, closed = _answer(sock)
        assert status == 413, (route, body)
        assert str(size) in _problem(body)["detail"]
        assert closed


def test_a_streamed_body_over_the_limit_is_cut_as_soon_as_it_passes(server: NodeProcess) -> None:
    head = _head(
        "POST",
        "/capture",
        {
            "Authorization": f"Bearer {server.token}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    sent, answer = _stream(server.port, head, CAPTURE_SIZE_LIMIT + 200 * MiB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"CapturePayloadTooLargeException" in answer
    assert sent < CAPTURE_SIZE_LIMIT + 24 * MiB  # not the 200 MiB beyond: cut at the limit


def test_a_partner_request_still_needs_its_own_body(server: NodeProcess) -> None:
    # the headers pass, the body read afterwards is not the one signed: 401, token not used up
    document = json.dumps(
        {"objectTypes": [], "eventTypes": [], "objects": [], "events": []}
    ).encode()
    token = sign_request(
        PARTNER, audience="plant", method="POST", path="/partners/inbox", body=document
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        forged = client.post("/partners/inbox", content=document + b" ", headers=headers)
        assert forged.status_code == 401
        assert forged.json()["reason"] == "body-mismatch"
        assert client.post("/partners/inbox", content=document, headers=headers).status_code < 500
        again = client.post("/partners/inbox", content=document, headers=headers)
        assert (again.status_code, again.json()["reason"]) == (401, "replayed")


# --- finding 9: a malformed push is a 400 -----------------------------------------------------


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = tmp_path_factory.mktemp("inbox") / "plant" / "twin.duckdb"
    home = NodeHome.init(store, "plant")
    home.add_partner(PARTNER.name, "http://127.0.0.1:9", PARTNER.public_key_text)
    node = Node(store)
    with TestClient(create_app(node, deliver=False)) as client:
        yield client
    node.close()


def _push(client: TestClient, body: bytes) -> httpx.Response:
    token = sign_request(
        PARTNER, audience="plant", method="POST", path="/partners/inbox", body=body
    )
    return client.post(
        "/partners/inbox",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{}", "objectTypes"),
        (b"[]", "array"),
        (
            b'{"objectTypes":[],"eventTypes":[],"objects":[],'
            b'"events":[{"id":"e1","time":"2020-01-01T00:00:00Z"}]}',
            "/events/0/type",
        ),
        (b"not json", "JSON"),
    ],
)
def test_a_malformed_push_is_a_400_saying_what_is_wrong(
    inbox: TestClient, body: bytes, named: str
) -> None:
    r = _push(inbox, body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = _problem(r.content)
    assert problem["status"] == 400
    assert named in json.dumps(problem)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["objectTypes", "eventTypes", "objects", "events", "id", "type", "x"])
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=JSON)
def test_no_junk_push_gets_a_server_error(inbox: TestClient, value: Any) -> None:
    r = _push(inbox, json.dumps(value).encode())
    assert r.status_code < 500, r.text
    if r.status_code == 400:
        assert _problem(r.content)["detail"]


# --- finding 10: the replay memory survives a restart -----------------------------------------


def test_a_token_used_before_a_kill_is_refused_after_the_restart(tmp_path: Path) -> None:
    node = _start(tmp_path, "plant")
    try:
        # made 4 s ahead (within the clock leeway), so that the node's restart is certainly
        # less than 5 s after it: the old "made before the node started" rule let it through
        path = "/events?perPage=1"
        token = sign_request(
            PARTNER, audience="plant", method="GET", path=path, now=time.time() + 4
        )
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=node.url, timeout=30) as client:
            assert client.get(path, headers=headers).status_code != 401
        node.kill()  # SIGKILL: nothing is flushed, nothing is closed
        node.start()
        with httpx.Client(base_url=node.url, timeout=30) as client:
            replay = client.get(path, headers=headers)
        assert replay.status_code == 401
        assert replay.json()["reason"] == "replayed"
        lines = AuditLog(node.home.audit_path).read()
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        assert [x["outcome"] for x in lines if x.get("jti") == jti] == ["allowed"]
        assert lines[-1]["reason"] == "replayed"
        assert lines[-1]["subject"] == PARTNER.name
    finally:
        node.kill()


# --- finding 11: read timeouts ----------------------------------------------------------------


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    node = _start(
        tmp_path_factory.mktemp("impatient"),
        "plant",
        "--header-timeout",
        "1",
        "--body-timeout",
        "1",
    )
    yield node
    node.kill()


def _closed_after(sock: socket.socket) -> tuple[float, bytes]:
    started = time.monotonic()
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return time.monotonic() - started, data
        data += piece


def test_a_slow_request_head_is_cut_off(impatient: NodeProcess) -> None:
    with _connect(impatient.port, timeout=8) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow")  # and nothing more
        waited, _ = _closed_after(sock)
    assert 0.5 < waited < 4


def test_a_head_sent_a_byte_at_a_time_is_cut_off(impatient: NodeProcess) -> None:
    # a byte every 0.2 s keeps any idle timer quiet; the head must still end in time
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X" * 1000
    closed_after = None
    with _connect(impatient.port, timeout=8) as sock:
        started = time.monotonic()
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable and sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            if time.monotonic() - started > 8:
                break
    assert closed_after is not None, "the slow head was still being taken after 8 s"
    assert closed_after < 4


def test_a_slow_body_gets_408_and_the_connection_closed(impatient: NodeProcess) -> None:
    head = _head(
        "POST",
        "/capture",
        {
            "Authorization": f"Bearer {impatient.token}",
            "Content-Type": "application/json",
            "Content-Length": "1000",
        },
    )
    with _connect(impatient.port, timeout=8) as sock:
        started = time.monotonic()
        sock.sendall(head + b'{"type": ')
        status, _, body, closed = _answer(sock)
        waited = time.monotonic() - started
    assert status == 408
    assert _problem(body)["status"] == 408
    assert closed
    assert 0.5 < waited < 4


def test_an_idle_connection_after_an_answer_is_closed(impatient: NodeProcess) -> None:
    # uvicorn's own keep-alive timeout is 5 s; the head deadline (1 s here) comes first
    with _connect(impatient.port, timeout=8) as sock:
        started = time.monotonic()
        sock.sendall(_head("GET", "/", {}))
        status, _, _, closed = _answer(sock)  # waits for the close
        waited = time.monotonic() - started
    assert status == 200
    assert closed
    assert waited < 3


def test_the_limits_are_settable_and_checked() -> None:
    with pytest.raises(ValueError, match="header_timeout"):
        TransportLimits(header_timeout=0)
    with pytest.raises(ValueError, match="failure_burst"):
        TransportLimits(failure_burst=0)
    assert TransportLimits().header_timeout == 10
    assert TransportLimits().body_timeout == 30


# --- finding 12: failed requests limited per address; the audit log bounded ---------------------


def _app(tmp: Path, limits: TransportLimits) -> tuple[Any, Node, str]:
    store = tmp / "plant" / "twin.duckdb"
    home = NodeHome.init(store, "plant")
    token = TokenStore(home.tokens_path).create("alice")
    node = Node(store)
    return create_app(node, deliver=False, limits=limits), node, token


def test_failed_requests_are_limited_per_address_and_audited_once_a_window(
    tmp_path: Path,
) -> None:
    limits = TransportLimits(failure_burst=5, failure_rate=0.01, audit_window=0.5)
    app, node, token = _app(tmp_path, limits)
    long_url = "/twin/views/process_map?x=" + "A" * 15_000

    async def attack() -> tuple[list[httpx.Response], httpx.Response, int, int, int]:
        attacker = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.7", 4000)),
            base_url="http://node",
        )
        neighbour = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.8", 4000)),
            base_url="http://node",
        )
        async with attacker, neighbour:
            answers = [await attacker.get(long_url) for _ in range(200)]
            await asyncio.sleep(0.6)  # a new audit window
            late = await attacker.get(long_url)
            # the address is held back even with a good token; its neighbour is not
            own = await attacker.get("/twin", headers={"Authorization": f"Bearer {token}"})
            other = await neighbour.get("/twin")
            good = await neighbour.get("/twin", headers={"Authorization": f"Bearer {token}"})
            return answers, late, own.status_code, other.status_code, good.status_code

    try:
        started = time.monotonic()
        answers, late, own, other, good = asyncio.run(attack())
        elapsed = time.monotonic() - started
        assert [r.status_code for r in answers[:5]] == [401] * 5
        assert {r.status_code for r in answers[5:]} == {429}
        refused = answers[-1]
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["gs1-epcis-version"] == "2.0.0"
        assert _problem(refused.content)["status"] == 429
        assert late.status_code == 429
        assert (own, other, good) == (429, 401, 200)
        lines = node.audit.read()
        from_attacker = [x for x in lines if x.get("peer") == "192.0.2.7"]
        assert len([x for x in from_attacker if x["action"] != "rate-limit"]) == 5
        limited = [x for x in from_attacker if x["action"] == "rate-limit"]
        # one line at the first refusal, then at most one a window, each counting the
        # refusals since the one before: together all 196
        assert limited[0]["refused"] == 1
        assert sum(x["refused"] for x in limited) == 196
        assert 2 <= len(limited) <= 2 + elapsed / limits.audit_window
        # 206 requests with a 15 KB URL: the log stays small (the URL is cut in each line)
        assert node.home.audit_path.stat().st_size < 12_000
        assert all(len(json.dumps(x)) < 1500 for x in lines)
    finally:
        node.close()


def test_failures_count_per_address_and_per_ipv6_network() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::7")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("testclient") == "testclient"
    assert address_key(None) == "unknown"
    limiter = FailureLimiter(TransportLimits(failure_burst=2, failure_rate=1, max_addresses=2))
    for peer in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
        limiter.failed(peer, now=0)
    assert limiter.retry_after("192.0.2.1", now=0) == 1.0
    assert limiter.retry_after("192.0.2.1", now=1) == 0  # one earned back in a second
    assert limiter.retry_after("192.0.2.2", now=0) == 0
    limiter.failed("192.0.2.3", now=0)  # a third address: the least recent is forgotten
    assert limiter.retry_after("192.0.2.1", now=0) == 0


def test_a_real_node_limits_each_loopback_address_on_its_own(tmp_path: Path) -> None:
    node = _start(tmp_path, "plant", "--failure-burst", "3", "--failure-rate", "0.01")
    try:

        def status(source: str) -> int:
            with _connect(node.port, source=source, timeout=5) as sock:
                sock.sendall(_head("GET", "/twin", {"Connection": "close"}))
                return _answer(sock)[0]

        assert [status("127.0.0.2") for _ in range(5)] == [401, 401, 401, 429, 429]
        assert status("127.0.0.1") == 401
    finally:
        node.kill()
