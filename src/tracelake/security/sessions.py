"""The UI's login sessions: a random id in an HttpOnly cookie, the token's grant on the server.

The cookie never holds the token, so a leaked cookie dies with its session (logout,
expiry or a restart) and the token itself never reaches the browser's storage.
Sessions live in memory: a restart logs everyone out, which is also how a removed
token stops working. The table is bounded; the oldest session makes room.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tracelake.security.tokens import Token

#: How long a UI login lasts.
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    token: Token
    expires: float


class Sessions:
    """Session id -> the token that logged in, until it expires or logs out."""

    def __init__(
        self,
        ttl_s: float = SESSION_TTL_S,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def create(self, token: Token) -> str:
        """Start a session for ``token``; returns its id for the cookie."""
        while len(self._by_id) >= self.max_sessions:
            self._by_id.popitem(last=False)
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = Session(token, self._clock() + self.ttl_s)
        return sid

    def get(self, sid: str) -> Token | None:
        """The token behind a live session id, or None (unknown, expired)."""
        session = self._by_id.get(sid)
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._by_id[sid]
            return None
        return session.token

    def end(self, sid: str) -> None:
        self._by_id.pop(sid, None)
