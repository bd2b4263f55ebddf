"""Who is asking: signed requests between nodes, local users' tokens, and the audit log.

**Between nodes** every request carries a short-lived token (an EdDSA-signed JWT) made by
:func:`sign_request`. It says who sent it (``iss``), for which node (``aud``), when it stops
being valid (``exp``, 30 s after it was made, never more than 60 s) and, so that a token copied
off the wire is worth nothing, a one-time number (``jti``) and the request it was made for: its
method (``htm``), path and query (``htu``) and a digest of its body (``bdh``). The receiving
node's :class:`Verifier` checks each of these and refuses with a short reason
(:class:`AuthError`); every acceptance and every refusal leaves a line in the node's
:class:`AuditLog`.

**Local users** (the people and scripts of the company that runs the node) use API tokens from
a :class:`TokenStore`; only their SHA-256 is kept on disk.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
import tomli_w
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field

from keiretsu.model.config import ConfigModel, read_toml, validate
from keiretsu.node.identity import Identity, fingerprint

NODE_TOKEN_TTL = 30
"""Seconds a node-to-node token is valid for when it is made."""

MAX_TOKEN_LIFETIME = 60
"""Longest lifetime (``exp - iat``, seconds) a verifier accepts."""

CLOCK_LEEWAY = 5
"""Seconds of clock difference between two nodes that are tolerated."""

JOURNAL_COMPACT_LINES = 10_000
"""The replay journal is rewritten with its live lines once this many lines (or twice the
live ones, if more) were appended since it was last rewritten."""

MAX_TOKEN_LENGTH = 4096
"""Longer tokens are refused unread (ours are about 500 characters)."""

Reason = Literal[
    "unsigned",
    "malformed",
    "unknown-key",
    "bad-signature",
    "expired",
    "not-yet-valid",
    "lifetime-too-long",
    "wrong-audience",
    "replayed",
    "body-mismatch",
    "method-mismatch",
    "path-mismatch",
    "unknown-token",
    "busy",
]
"""Why a request was refused, as a short code (in the 401 answer and in the audit log)."""


class AuthError(Exception):
    """A request that is refused: ``reason`` is a short code (:data:`Reason`), ``detail`` says
    in words what was wrong and what to do."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def body_digest(body: bytes) -> str:
    """The ``bdh`` claim: base64url of the SHA-256 of the exact body bytes sent."""
    return _b64(hashlib.sha256(body).digest())


def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def sign_request(
    identity: Identity,
    *,
    audience: str,
    method: str,
    path: str,
    body: bytes = b"",
    ttl: int = NODE_TOKEN_TTL,
    now: float | None = None,
) -> str:
    """A token for one request from this node to the node named ``audience``.

    ``path`` is the request target exactly as it goes on the wire: the path and, if there is
    one, ``?`` and the query string, percent-encoded as sent (``/events?eventType=ObjectEvent``).
    ``body`` is the exact bytes sent. Send the token as ``Authorization: Bearer <token>``;
    make a new one for every request, including every retry.
    """
    if ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl}")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": identity.name,
        "sub": identity.name,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": _b64(secrets.token_bytes(16)),
        "htm": method.upper(),
        "htu": path,
        "bdh": body_digest(body),
    }
    headers = {"kid": identity.fingerprint(), "typ": "JWT"}
    return jwt.encode(claims, identity.private_key, algorithm="EdDSA", headers=headers)


_JWS = jwt.PyJWS(options={"verify_signature": True})
_JTI = re.compile(r"[A-Za-z0-9_-]{16,64}")
_HEADER_KEYS = {"alg", "typ", "kid"}


@dataclass(frozen=True)
class Pending:
    """A signed request whose headers passed every check (:meth:`Verifier.check_headers`); its
    body is still to be read and compared with the token's ``bdh`` (:meth:`Verifier.finish`)."""

    issuer: str
    jti: str
    exp: float
    bdh: str
    method: str
    path: str


class Verifier:
    """Checks the signed requests that partners send to node ``node_name``.

    ``partner_keys`` is asked for the current partners' public keys (by node name) on every
    request, so a partner added or removed takes effect at once. The checks run in two steps so
    that nothing is read from a stranger but its headers: :meth:`check_headers` (signature,
    issuer, audience, lifetime, method, path, replay) before the body is read, :meth:`finish`
    (the body's digest, then the token is used up) after. :meth:`verify` does both.

    Tokens accepted are remembered (by issuer and ``jti``) until they expire, so each is
    accepted once. With ``journal`` (a file; the node keeps it in its home) they are written
    there before the request is accepted, and read back when the verifier starts, so a node
    killed and started again still refuses them.
    """

    def __init__(
        self,
        node_name: str,
        partner_keys: Callable[[], Mapping[str, Ed25519PublicKey]],
        audit: AuditLog | None = None,
        *,
        max_lifetime: int = MAX_TOKEN_LIFETIME,
        leeway: int = CLOCK_LEEWAY,
        max_remembered: int = 100_000,
        started_at: float | None = None,
        journal: Path | None = None,
        boot_time: float | None = None,
    ) -> None:
        self.node_name = node_name
        self.partner_keys = partner_keys
        self.audit = audit
        self.max_lifetime = max_lifetime
        self.leeway = leeway
        self.max_remembered = max_remembered
        self.started_at = time.time() if started_at is None else started_at
        self.not_before: float | None = self.started_at - leeway
        """Tokens made (``iat``, seconds since 1970) before this are refused, because this
        verifier cannot know whether they were used: it has no journal (only memory, from
        ``started_at`` on), its journal is new, or the machine restarted since the journal was
        last written. None: the journal remembers every token still live."""
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}
        self._expiries: list[tuple[float, tuple[str, str]]] = []
        self._journal: ReplayJournal | None = None
        if journal is not None:
            self.keep_journal(journal, boot_time=boot_time, now=self.started_at)

    def keep_journal(
        self, path: Path, *, boot_time: float | None = None, now: float | None = None
    ) -> None:
        """Remember accepted tokens in the file ``path`` too, and take in those it holds that
        are still live at ``now``. ``boot_time`` (seconds since 1970) is when this machine
        started; by default it is asked of the system."""
        with self._lock:
            if self._journal is not None and self._journal.path == Path(path):
                return
            journal = ReplayJournal(path)
            moment = time.time() if now is None else now
            booted = machine_boot_time() if boot_time is None else boot_time
            written = journal.written_at()
            if written is None:
                pass  # a first start (or the file was removed): only what came since is known
            elif written < booted:
                # written before the machine last started: a crash of the machine may have lost
                # its last lines (appended, not fsynced), so refuse what was made before the boot
                self.not_before = booted + self.leeway
            else:  # the process was stopped or killed; every line it wrote is in the file
                self.not_before = None
            for (issuer, jti), until in journal.load(moment).items():
                self._hold(issuer, jti, until)
            journal.compact(self._seen)
            self._journal = journal

    def verify(
        self,
        token: str | None,
        *,
        method: str,
        path: str,
        body: bytes,
        now: float | None = None,
        peer: str | None = None,
    ) -> str:
        """The name of the partner that signed ``token`` for this very request, or
        :class:`AuthError`. ``method``, ``path`` (with ``?query`` as received, undecoded) and
        ``body`` are the request as it arrived; ``peer`` (the client address) goes into the
        audit line."""
        pending = self.check_headers(token, method=method, path=path, now=now, peer=peer)
        return self.finish(pending, body_digest(body), now=now, peer=peer)

    def check_headers(
        self,
        token: str | None,
        *,
        method: str,
        path: str,
        now: float | None = None,
        peer: str | None = None,
    ) -> Pending:
        """Every check that needs only the request's line and headers, in the order of
        docs/node/identity.md; :class:`AuthError` (and an audit line) at the first that fails.
        Nothing is remembered: a token refused later (its body) is not used up."""
        moment = time.time() if now is None else now
        try:
            return self._check(token, method=method, path=path, now=moment)
        except AuthError as exc:
            self._refused(exc, _claimed_issuer(token), peer, method, path)
            raise

    def finish(
        self,
        pending: Pending,
        digest: str,
        *,
        now: float | None = None,
        peer: str | None = None,
    ) -> str:
        """The partner's name, once the body read (its SHA-256 digest, :func:`body_digest`) is
        the one the token was signed for; the token is used up from here on (written to the
        journal first). :class:`AuthError` ``body-mismatch``, ``replayed`` or ``busy``."""
        moment = time.time() if now is None else now
        try:
            if not hmac.compare_digest(pending.bdh, digest):
                raise AuthError("body-mismatch", "the body is not the one the token was signed for")
            self._remember(pending.issuer, pending.jti, pending.exp, moment)
        except AuthError as exc:
            self._refused(exc, pending.issuer, peer, pending.method, pending.path)
            raise
        if self.audit is not None:
            self.audit.write(
                "node-request",
                "allowed",
                subject=pending.issuer,
                peer=peer,
                method=pending.method,
                path=pending.path,
                jti=pending.jti,
            )
        return pending.issuer

    def _refused(
        self, exc: AuthError, subject: str | None, peer: str | None, method: str, path: str
    ) -> None:
        if self.audit is not None:
            self.audit.write(
                "node-request",
                "refused",
                reason=exc.reason,
                detail=exc.detail,
                subject=subject,
                peer=peer,
                method=method,
                path=path,
            )

    # --- the checks, in order ---------------------------------------------------------------

    def _check(self, token: str | None, *, method: str, path: str, now: float) -> Pending:
        if token is None or not token.strip():
            raise AuthError("unsigned", "no token: sign node-to-node requests (Bearer JWT)")
        if len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("malformed", f"token longer than {MAX_TOKEN_LENGTH} characters")
        header, claims = _read_unverified(token)
        issuer = claims["iss"]
        keys = self.partner_keys()
        key = keys.get(issuer)
        if key is None:
            raise AuthError(
                "unknown-key",
                f"{issuer!r} is not a partner of {self.node_name!r}; add it with "
                "`keiretsu node partner add` (name, URL and public key)",
            )
        try:
            _JWS.decode_complete(token, key, algorithms=["EdDSA"])
        except jwt.InvalidSignatureError as exc:
            known = fingerprint(key)
            hint = (
                f" (signed with key {header.get('kid')}, partner's key is {known}: has "
                f"{issuer!r} a new identity?)"
                if header.get("kid") != known
                else ""
            )
            raise AuthError("bad-signature", f"signature does not match {issuer!r}{hint}") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthError("malformed", f"token cannot be checked: {exc}") from exc
        # from here on the claims are the partner's own words
        self._check_times(claims, now)
        audience = claims["aud"]
        if audience != self.node_name:
            raise AuthError(
                "wrong-audience", f"token is for {audience!r}, this node is {self.node_name!r}"
            )
        if claims["htm"] != method.upper():
            raise AuthError(
                "method-mismatch", f"token is for {claims['htm']}, request is {method.upper()}"
            )
        if claims["htu"] != path:
            raise AuthError("path-mismatch", f"token is for {claims['htu']!r}, request is {path!r}")
        jti = claims["jti"]
        with self._lock:
            self._forget_expired(now)
            if (issuer, jti) in self._seen:
                raise AuthError("replayed", f"token {jti} from {issuer!r} was already used")
        return Pending(
            issuer=issuer,
            jti=jti,
            exp=float(claims["exp"]),
            bdh=claims["bdh"],
            method=method,
            path=path,
        )

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        iat, nbf, exp = claims["iat"], claims["nbf"], claims["exp"]
        if exp - iat > self.max_lifetime:
            raise AuthError(
                "lifetime-too-long",
                f"token is valid for {exp - iat} s; at most {self.max_lifetime} s is accepted",
            )
        if now > exp + self.leeway:
            raise AuthError(
                "expired", f"token expired {now - exp:.0f} s ago; sign each request afresh"
            )
        if now < nbf - self.leeway or now < iat - self.leeway:
            raise AuthError(
                "not-yet-valid",
                f"token is valid from {max(nbf, iat)}, {max(nbf, iat) - now:.0f} s ahead of this "
                "node's clock; check both clocks (NTP)",
            )
        if self.not_before is not None and iat < self.not_before:
            raise AuthError(
                "expired",
                "token was made before this node started (or its machine restarted) and the "
                "node cannot know whether it was used; sign again",
            )

    def _forget_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            _, old = heapq.heappop(self._expiries)
            self._seen.pop(old, None)

    def _hold(self, issuer: str, jti: str, until: float) -> None:
        key = (issuer, jti)
        self._seen[key] = until
        heapq.heappush(self._expiries, (until, key))

    def _remember(self, issuer: str, jti: str, exp: float, now: float) -> None:
        with self._lock:
            self._forget_expired(now)
            if (issuer, jti) in self._seen:
                raise AuthError("replayed", f"token {jti} from {issuer!r} was already used")
            if len(self._seen) >= self.max_remembered:
                # forgetting a live token would let it be replayed: refuse until some expire
                raise AuthError(
                    "busy", "too many requests within a token's lifetime; retry in a few seconds"
                )
            until = exp + self.leeway
            if self._journal is not None:
                try:
                    self._journal.append(issuer, jti, until)
                    if self._journal.appended > max(JOURNAL_COMPACT_LINES, 2 * len(self._seen)):
                        self._journal.compact(self._seen)
                except OSError as exc:  # not on disk: accepting it would allow a replay later
                    raise AuthError(
                        "busy", f"cannot record the token ({exc.strerror}); retry shortly"
                    ) from exc
            self._hold(issuer, jti, until)


def machine_boot_time() -> float:
    """When this machine last started, in seconds since 1970 (UTC): the wall clock minus the
    time since boot (suspended time included where the system counts it)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.time() - time.clock_gettime(clock)


class ReplayJournal:
    """The tokens a node accepted and that are still live, in a file of the node's home, so a
    restart does not forget them: one line per token, ``until<TAB>issuer<TAB>jti`` (``until``
    in seconds since 1970, the token's ``exp`` plus the clock leeway).

    A line is appended (``write(2)``, no fsync) before its request is accepted: it survives the
    node's process being killed; a crash of the whole machine may lose the last lines, which
    :class:`Verifier` makes up for by refusing tokens made before the machine started. The file
    is rewritten with the live lines only when it starts and when it has grown to more than
    twice those (:meth:`compact`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.appended = 0
        """Lines appended since the file was last rewritten."""

    def written_at(self) -> float | None:
        """When the file was last written (seconds since 1970), or None if there is none."""
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def load(self, now: float) -> dict[tuple[str, str], float]:
        """The tokens in the file still live at ``now``: (issuer, jti) → until. Lines that
        cannot be read (a line cut short by a crash) are skipped."""
        live: dict[tuple[str, str], float] = {}
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return live
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) != 3 or not _JTI.fullmatch(parts[2]):
                continue
            try:
                until = float(parts[0])
            except ValueError:
                continue
            if math.isfinite(until) and until >= now:
                live[(parts[1], parts[2])] = until
        return live

    def append(self, issuer: str, jti: str, until: float) -> None:
        """Add one token (one ``write`` of a whole line, on the file opened for appending)."""
        line = f"{until:.3f}\t{issuer}\t{jti}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if os.write(fd, line) != len(line):
                raise OSError(28, "short write to the replay journal")
        finally:
            os.close(fd)
        self.appended += 1

    def compact(self, live: Mapping[tuple[str, str], float]) -> None:
        """Rewrite the file with ``live`` only (beside it, then renamed over it)."""
        temp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(f"{u:.3f}\t{i}\t{j}\n" for (i, j), u in live.items())
        os.replace(temp, self.path)
        self.appended = 0


def _read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of ``token`` before its signature is checked; every claim we rely on
    must be there with the right type, else ``malformed``."""
    if token.count(".") != 2:
        raise AuthError("malformed", "not a JWT (expected three dot-separated parts)")
    try:
        parts = _JWS.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(parts["payload"])
    except (jwt.PyJWTError, ValueError, TypeError, UnicodeError) as exc:
        raise AuthError("malformed", f"not a readable JWT: {exc}") from exc
    header = parts["header"]
    # base64 lets a few spellings decode to the same signature; accept only the canonical one,
    # so that no changed token is ever accepted
    if token.rpartition(".")[2] != _b64(parts["signature"]):
        raise AuthError("malformed", "signature part is not canonical base64url")
    alg = header.get("alg")
    if alg in (None, "none"):
        raise AuthError("unsigned", "token is not signed (alg none)")
    if alg != "EdDSA":
        raise AuthError("malformed", f"alg {alg!r}: only EdDSA (Ed25519) is accepted")
    extra = set(header) - _HEADER_KEYS
    if extra:
        raise AuthError("malformed", f"unexpected header fields {sorted(extra)}")
    if not isinstance(claims, dict):
        raise AuthError("malformed", "claims are not a JSON object")
    for name in ("iss", "sub", "aud", "jti", "htm", "htu", "bdh"):
        if not isinstance(claims.get(name), str):
            raise AuthError("malformed", f"claim {name!r} missing or not text")
    for name in ("iat", "nbf", "exp"):
        value = claims.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise AuthError("malformed", f"claim {name!r} missing or not a number of seconds")
    if claims["sub"] != claims["iss"]:
        raise AuthError("malformed", "claims 'sub' and 'iss' differ (a node speaks for itself)")
    if not _JTI.fullmatch(claims["jti"]):
        raise AuthError("malformed", "claim 'jti' must be 16-64 base64url characters")
    return header, claims


def _claimed_issuer(token: str | None) -> str | None:
    """Who a refused token claims to be from, for the audit line (not proven)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        claims = json.loads(
            _JWS.decode_complete(token, options={"verify_signature": False})["payload"]
        )
    except (jwt.PyJWTError, ValueError, TypeError, UnicodeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer[:64] if isinstance(issuer, str) else None


AUDIT_FILE_SIZE = 10 * 1024 * 1024
"""Bytes an audit file may reach before it is rotated (``audit.log`` → ``audit.log.1``)."""

AUDIT_FILES_KEPT = 5
"""Rotated audit files kept (``audit.log.1`` … ``audit.log.5``) beside the current one."""

AUDIT_FIELD_LENGTH = 512
"""Characters of one text field written in an audit line; the rest is cut and counted."""


def _cut(value: Any) -> Any:
    """A text field as the audit log keeps it: at most :data:`AUDIT_FIELD_LENGTH` characters."""
    if isinstance(value, str) and len(value) > AUDIT_FIELD_LENGTH:
        return f"{value[:AUDIT_FIELD_LENGTH]}…(+{len(value) - AUDIT_FIELD_LENGTH} characters)"
    return value


class AuditLog:
    """The node's audit log: one JSON object a line, appended, never rewritten.

    Each line has ``time`` (UTC, ISO 8601), ``action`` (what was attempted, e.g.
    ``node-request``), ``outcome`` (``allowed`` or ``refused``, or another word for other
    actions) and the fields given, e.g. ``reason``, ``subject`` (who asked), ``peer`` (from
    which address), ``method`` and ``path``. Fields that are None are left out; text fields
    longer than :data:`AUDIT_FIELD_LENGTH` characters are cut (a request's path can be long).

    When the file would pass ``max_bytes`` (10 MiB) it is renamed ``audit.log.1`` (the older
    ones move up: ``.1`` → ``.2`` …) and a new one begins; ``keep`` (5) rotated files are kept,
    the oldest is deleted. So the log takes at most ``(keep + 1) × max_bytes`` on disk.
    """

    def __init__(
        self, path: Path, *, max_bytes: int = AUDIT_FILE_SIZE, keep: int = AUDIT_FILES_KEPT
    ) -> None:
        if max_bytes < 1 or keep < 0:
            raise ValueError("max_bytes must be positive and keep not negative")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()

    def files(self) -> list[Path]:
        """The log's files that exist, oldest first (``audit.log.5`` … ``audit.log``)."""
        names = [self._rotated(n) for n in range(self.keep, 0, -1)] + [self.path]
        return [p for p in names if p.exists()]

    def _rotated(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def write(self, action: str, outcome: str, **fields: Any) -> None:
        """Append one line (flushed; not fsynced), rotating the file first if it is full."""
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "action": action,
            "outcome": outcome,
        }
        record.update((k, _cut(v)) for k, v in fields.items() if v is not None)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and size + len(data) > self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.write(fd, data)
            finally:
                if fd >= 0:
                    os.close(fd)

    def _rotate(self) -> None:
        if self.keep == 0:
            self.path.unlink(missing_ok=True)
            return
        self._rotated(self.keep).unlink(missing_ok=True)
        for number in range(self.keep - 1, 0, -1):
            older = self._rotated(number)
            if older.exists():
                os.replace(older, self._rotated(number + 1))
        os.replace(self.path, self._rotated(1))

    def read(self) -> list[dict[str, Any]]:
        """Every line kept, across the rotated files, oldest first (empty if nothing was
        written yet)."""
        # open every file first: a file renamed by a rotation meanwhile is still read whole
        opened = []
        for path in self.files():
            try:
                opened.append((path, path.open("rb")))
            except FileNotFoundError:  # the oldest, deleted by a rotation just now
                continue
        texts = []
        for path, fh in opened:
            with fh:
                texts.append((path, fh.read().decode("utf-8")))
        records = []
        for path, text in texts:
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not a JSON line ({exc})") from exc
        return records


TOKEN_PREFIX = "kt_"


_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")
_LABEL_EXPECTED = (
    "1-64 characters of letters, digits, space, '.', '_', '@' or '-', starting with a letter or "
    "digit"
)


class _TokenRecord(ConfigModel):
    """One ``[[token]]`` of ``tokens.toml``: who the token is for, its SHA-256 (hex), when
    made."""

    label: Annotated[str, Field(pattern=f"^{_LABEL.pattern}$", description=_LABEL_EXPECTED)]
    sha256: Annotated[
        str, Field(pattern="^[0-9a-f]{64}$", description="the token's SHA-256, 64 hex digits")
    ]
    created: Annotated[
        str, Field(min_length=1, description="when it was made, e.g. 2025-06-02T09:00:00Z")
    ]


class _TokensFile(ConfigModel):
    """``tokens.toml``: the local users' tokens (hashes only)."""

    token: Annotated[
        list[_TokenRecord],
        Field(default_factory=list, description="[[token]] tables (label, sha256, created)"),
    ]


class TokenStore:
    """The API tokens of a node's local users, in ``tokens.toml``: per token its label (who or
    what it is for, e.g. ``planning-team``), the SHA-256 of the secret, and when it was made.

    The secret itself is shown once, by :meth:`create`, and never stored. The file is re-read
    when it changes, so a token revoked from the command line stops working in a running node.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int] | None, list[_TokenRecord]] = (None, [])

    def create(self, label: str) -> str:
        """A new token for ``label``; returns the secret (``kt_...``), the only time it is seen."""
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise ValueError(f"{label!r} is not a token label: expected {_LABEL_EXPECTED}")
        secret = TOKEN_PREFIX + _b64(secrets.token_bytes(32))
        with self._lock:
            entries = self._entries()
            if any(e.label == label for e in entries):
                raise ValueError(f"a token labelled {label!r} exists; revoke it first")
            created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            entries.append(_TokenRecord(label=label, sha256=_sha256(secret), created=created))
            self._save(entries)
        return secret

    def check(self, token: str) -> str | None:
        """The label of ``token`` if it is a live token of this node, else None."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = _sha256(token)
        with self._lock:
            entries = self._entries()
        found = None
        for entry in entries:  # compare with every entry, in constant time each
            if hmac.compare_digest(entry.sha256, digest):
                found = entry.label
        return found

    def revoke(self, label: str) -> bool:
        """Remove the token labelled ``label``; False if there was none."""
        with self._lock:
            entries = self._entries()
            kept = [e for e in entries if e.label != label]
            if len(kept) == len(entries):
                return False
            self._save(kept)
            return True

    def labels(self) -> list[str]:
        """The labels of the live tokens, oldest first."""
        with self._lock:
            return [e.label for e in self._entries()]

    def _entries(self) -> list[_TokenRecord]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._cache = (None, [])
            return []
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cache[0] != stamp:
            data = read_toml(self.path, error=ValueError)
            written = validate(_TokensFile, data, source=self.path, error=ValueError, label="label")
            self._cache = (stamp, list(written.token))
        return list(self._cache[1])

    def _save(self, entries: list[_TokenRecord]) -> None:
        # write beside and rename: a reader never sees half a file
        temp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(tomli_w.dumps({"token": [e.model_dump() for e in entries]}).encode("utf-8"))
        os.replace(temp, self.path)
        self._cache = (None, [])


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
