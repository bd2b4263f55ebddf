"""Who is looking at the obeya: a local user's session, kept in the node's memory.

A local user logs in with one of the node's API tokens (``kt_…``, made by ``keiretsu node
token create``), sent once in the ``Authorization`` header of ``POST /obeya/login`` — the
node's transport gate checks it there like any other request (rate limit on failures, audit
line). The answer sets a cookie holding a random session id: ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it), ``Secure``, limited to ``/obeya``. Each
page checks that the token behind the session still works, so a token revoked from the
command line ends its sessions at the next click. A partner's signed request never gets a
session: the pages are for the node's own people.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

COOKIE = "obeya_session"
"""The session cookie's name."""

SESSION_SECONDS = 12 * 3600
"""How long a session lasts after login (seconds): a working day and a half."""

MAX_SESSIONS = 10_000
"""Sessions kept at once; the oldest are forgotten first."""


@dataclass(frozen=True)
class Session:
    """One logged-in user: the token's label, the token (kept in memory only, to check it is
    still live) and when the session ends (seconds since the epoch)."""

    label: str
    token: str
    expires: float


class Sessions:
    """The obeya's sessions of one node (in memory: a restart logs everyone out)."""

    def __init__(self, tokens: Any, seconds: float = SESSION_SECONDS) -> None:
        self._tokens = tokens  # keiretsu.node.auth.TokenStore (check(token) -> label | None)
        self._seconds = seconds
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def open(self, label: str, token: str) -> str:
        """A new session for the user ``label`` who proved ``token``; returns its id."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._by_id[sid] = Session(label, token, time.time() + self._seconds)
            while len(self._by_id) > MAX_SESSIONS:
                self._by_id.pop(next(iter(self._by_id)))
        return sid

    def user(self, sid: str | None) -> str | None:
        """The label of the user of session ``sid``, or None: no such session, it ended, or
        its token was revoked (then the session is dropped)."""
        if not sid:
            return None
        with self._lock:
            found = self._by_id.get(sid)
        if found is None:
            return None
        if found.expires < time.time() or self._tokens.check(found.token) != found.label:
            self.close(sid)
            return None
        return found.label

    def close(self, sid: str | None) -> None:
        """End session ``sid`` (logout)."""
        if sid:
            with self._lock:
                self._by_id.pop(sid, None)
