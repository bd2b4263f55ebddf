"""Who is looking at the obeya: a local user's session, kept across restarts of the node.

A local user logs in with one of the node's API tokens (``kt_…``, made by ``keiretsu node
token create``), sent once in the ``Authorization`` header of ``POST /obeya/login`` by the
login page's script — the node's transport gate checks it there like any other request. With
JavaScript off the browser posts the login form itself; :class:`keiretsu.web.login.FormLogin`
reads that small form and hands the token on in the header, so the gate checks it the same
way. The answer sets a cookie holding a random session id: ``HttpOnly`` (no
script reads it), ``SameSite=Strict`` (no other site's page sends it), ``Secure``, limited
to ``/obeya``.

The sessions are kept in the node's home (``obeya-sessions.json``, readable by its owner
only) as SHA-256 hashes: of the session id (the cookie is not in the file) and of the token
behind it (the token is not either). A restart of the node keeps everyone logged in; a session
ends after :data:`SESSION_SECONDS`, at logout, or when its token is revoked (``keiretsu node
token revoke``): each page checks that the token's hash is still in the node's token file
under the same label. A partner's signed request never gets a session.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

COOKIE = "obeya_session"
"""The session cookie's name."""

SESSION_SECONDS = 12 * 3600
"""How long a session lasts after login (seconds): a working day and a half."""

MAX_SESSIONS = 10_000
"""Sessions kept at once; the oldest are forgotten first."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    """One logged-in user: the token's label, the SHA-256 of the token (to check it is still
    live) and when the session ends (seconds since the epoch)."""

    label: str
    token_sha256: str
    expires: float


class Sessions:
    """The obeya's sessions of one node, kept in ``path`` (JSON; None: in memory only).

    ``tokens``: the node's :class:`~keiretsu.node.auth.TokenStore` (its ``path``, the token
    file, holds each live token's label and SHA-256)."""

    def __init__(
        self, tokens: Any, seconds: float = SESSION_SECONDS, *, path: Path | None = None
    ) -> None:
        self._tokens = tokens
        self._seconds = seconds
        self._path = path
        self._lock = threading.Lock()
        self._by_hash: dict[str, Session] = self._load()
        self._live: tuple[tuple[int, int] | None, set[tuple[str, str]]] = (None, set())

    def open(self, label: str, token: str) -> str:
        """A new session for the user ``label`` who proved ``token``; returns its id (the
        cookie's value: only its hash is kept)."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._by_hash[_sha256(sid)] = Session(
                label, _sha256(token), time.time() + self._seconds
            )
            while len(self._by_hash) > MAX_SESSIONS:
                self._by_hash.pop(next(iter(self._by_hash)))
            self._save()
        return sid

    def user(self, sid: str | None) -> str | None:
        """The label of the user of session ``sid``, or None: no such session, it ended, or
        its token was revoked (then the session is dropped)."""
        if not sid or len(sid) > 200:
            return None
        with self._lock:
            found = self._by_hash.get(_sha256(sid))
        if found is None:
            return None
        if found.expires < time.time() or not self._token_live(found):
            self.close(sid)
            return None
        return found.label

    def close(self, sid: str | None) -> None:
        """End session ``sid`` (logout)."""
        if sid:
            with self._lock:
                if self._by_hash.pop(_sha256(sid), None) is not None:
                    self._save()

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_hash)

    # --- the token file and the sessions file ---------------------------------------------

    def _token_live(self, session: Session) -> bool:
        path = getattr(self._tokens, "path", None)
        if path is None:  # a token store without a file (tests): none is live
            return False
        try:
            st = Path(path).stat()
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._live[0] != stamp:
                try:
                    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
                    live = {(str(t["label"]), str(t["sha256"])) for t in data.get("token", [])}
                except (OSError, ValueError, KeyError, TypeError):
                    live = set()  # a token file that does not read: nobody is logged in
                self._live = (stamp, live)
            return (session.label, session.token_sha256) in self._live[1]

    def _load(self) -> dict[str, Session]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            now = time.time()
            kept = {
                str(h): Session(str(s["label"]), str(s["token_sha256"]), float(s["expires"]))
                for h, s in data.get("sessions", {}).items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # a damaged file: everyone logs in again
        return {h: s for h, s in kept.items() if s.expires >= now}

    def _save(self) -> None:
        """Write the live sessions beside and rename (a reader never sees half a file); the
        file readable by its owner only. Called with the lock held."""
        if self._path is None:
            return
        now = time.time()
        data = {"sessions": {h: asdict(s) for h, s in self._by_hash.items() if s.expires >= now}}
        temp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(temp, self._path)
