"""The dashboard's sessions: made by logging in with the REST token, signed with it.

The session cookie (``occo_session``, HttpOnly, SameSite=Strict) holds a random id, its
creation time and an HMAC of both keyed with the service's token; the CSRF token the
page sends back in the ``X-CSRF-Token`` header of every write is an HMAC of the id. So
nothing is kept per session on the server: a session outlives a restart of ``occo serve``
(the open pages' event streams reconnect and go on), and replacing the token file ends
every session. A session expires ``SESSION_TTL`` seconds after the login; logging out
deletes the cookie and refuses that session in this process from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["COOKIE", "CSRF_HEADER", "SESSION_TTL", "Session", "Sessions"]

COOKIE = "occo_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = 12 * 3600
#: logged-out sessions remembered (until they would have expired anyway)
MAX_REVOKED = 10_000


@dataclass(frozen=True)
class Session:
    sid: str
    created: int
    cookie: str
    csrf: str

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                         self.csrf.encode())


class Sessions:
    def __init__(self, token: str, ttl: float = SESSION_TTL) -> None:
        self._key = hashlib.sha256(b"occo-ui-session:" + token.encode("utf-8")).digest()
        self.ttl = ttl
        self._lock = threading.Lock()
        self._revoked: dict[str, int] = {}

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()

    def _session(self, sid: str, created: int) -> Session:
        return Session(sid=sid, created=created,
                       cookie=f"{sid}.{created}.{self._mac('session', sid, str(created))}",
                       csrf=self._mac("csrf", sid))

    def new(self) -> Session:
        return self._session(secrets.token_urlsafe(24), int(time.time()))

    def get(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 200 or cookie.count(".") != 2:
            return None
        sid, created, mac = cookie.split(".")
        if not (created.isascii() and created.isdigit()) or len(created) > 12:
            return None
        session = self._session(sid, int(created))
        if not hmac.compare_digest(session.cookie.encode("utf-8", "replace"),
                                   cookie.encode("utf-8", "replace")):
            return None
        if not 0 <= time.time() - session.created <= self.ttl:
            return None
        with self._lock:
            if sid in self._revoked:
                return None
        return session

    def drop(self, cookie: str | None) -> None:
        session = self.get(cookie)
        if session is None:
            return
        with self._lock:
            now = time.time()
            for sid in [s for s, at in self._revoked.items() if now - at > self.ttl]:
                del self._revoked[sid]
            if len(self._revoked) < MAX_REVOKED:
                self._revoked[session.sid] = session.created
