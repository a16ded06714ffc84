"""The REST service's bearer token: made on first start, kept in a file only its owner can
read, compared in constant time.

The token file (``rest.token_file``, default ``~/.config/occo/rest-token``) is created with
mode 0600, in a directory created with mode 0700 if it did not exist. A token file that
others can read or write is refused (as ssh refuses such a private key): whoever can read
it can do anything the service can.

Nodes scale their own infrastructure with a *scaling secret* instead (Occopus's
autoscaling tutorials call the scale paths from inside the nodes): one secret per
infrastructure, derived from the store's key (``Store.scaling_secret``, never stored)
and given to the nodes' templates as ``scaling_secret``. It authorises only the
``scaleup``/``scaledown``/``scaleto`` paths of that infrastructure, is compared in constant
time, and the requests it authorises are rate-limited per infrastructure
(:class:`RateLimiter`).
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from occo.util import ConfigError, Location, register_secret

__all__ = ["ensure_token", "token_matches", "MIN_TOKEN_LENGTH", "secret_matches", "RateLimiter",
           "SCALING_SECRET_HEADER", "SCALING_SECRET_PARAM", "SCALING_RATE"]

MIN_TOKEN_LENGTH = 16


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"the REST token file is accessible to other users (mode "
                          f"{mode:04o}); run: chmod 600 {path}", location=Location(file=str(path)))
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(f"the REST token file holds no usable token (one line of at least "
                          f"{MIN_TOKEN_LENGTH} characters, no spaces); delete it to have a new "
                          "one generated", location=Location(file=str(path)))
    return token


def ensure_token(path: str | Path) -> tuple[str, bool]:
    """The token stored at ``path``, made first if there is none; ``(token, created)``.
    A path that is not a regular file, or that cannot be made or read, is a ConfigError
    naming it and ``rest.token_file``."""
    path = Path(path).expanduser()
    try:
        token, created = _ensure(path)
    except OSError as exc:
        reason = "a part of its path is a file, not a directory" if isinstance(
            exc, (NotADirectoryError, FileExistsError)) else (exc.strerror or str(exc))
        raise ConfigError(f"rest.token_file: the REST token file cannot be made or "
                          f"read ({reason})", location=Location(file=str(path))) from None
    register_secret(token)
    return token, created


def _ensure(path: Path) -> tuple[str, bool]:
    if path.exists() or path.is_symlink():
        if not path.is_file():
            kind = "a directory" if path.is_dir() else "not a regular file"
            raise ConfigError(f"rest.token_file: the REST token file is {kind}; point "
                              "rest.token_file at a file (it is created on first start)",
                              location=Location(file=str(path)))
        return _read(path), False
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another service started at the same moment
        return _read(path), False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token, True


def token_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8"), token.encode("utf-8"))


# ---------------------------------------------------------------------- scaling secrets

#: the header a node may send its infrastructure's scaling secret in (or ``?secret=``)
SCALING_SECRET_HEADER = "X-OCCO-Scaling-Secret"
SCALING_SECRET_PARAM = "secret"
#: secret-authorised scaling requests per infrastructure per minute, by default
SCALING_RATE = 30


def secret_matches(given: str | None, stored: str | None) -> bool:
    """Whether ``given`` is the stored scaling secret (constant time; none never matches)."""
    if not given or not stored:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), stored.encode("utf-8"))


class RateLimiter:
    """At most ``per_minute`` requests per key in any 60-second window (a sliding log).

    ``clock`` is injected (monotonic seconds) so tests run in simulated time. The number of
    keys tracked is bounded: keys whose window is empty are forgotten when there are many,
    so requests naming made-up infrastructure ids cannot grow it without limit.
    """

    WINDOW = 60.0
    MAX_KEYS = 4096

    def __init__(self, per_minute: int = SCALING_RATE, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        self.per_minute = per_minute
        self.clock = clock
        self._log: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, int]:
        """Count one request for ``key``: ``(allowed, seconds until one more would be)``."""
        now = self.clock()
        with self._lock:
            if len(self._log) >= self.MAX_KEYS:
                self._prune(now)
            times = self._log.setdefault(key, deque())
            while times and times[0] <= now - self.WINDOW:
                times.popleft()
            if len(times) >= self.per_minute:
                return False, max(1, int(times[0] + self.WINDOW - now + 0.999))
            times.append(now)
            return True, 0

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._log.items() if not t or t[-1] <= now - self.WINDOW]:
            del self._log[key]
        while len(self._log) >= self.MAX_KEYS:  # all busy: forget the oldest-used
            del self._log[min(self._log, key=lambda k: self._log[k][-1])]
