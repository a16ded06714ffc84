"""The REST service's bearer token: made on first start, kept in a file only its owner can
read, compared in constant time.

The token file (``rest.token_file``, default ``~/.config/occo/rest-token``) is created with
mode 0600, in a directory created with mode 0700 if it did not exist. A token file that
others can read or write is refused (as ssh refuses such a private key): whoever can read
it can do anything the service can.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

from occo.util import ConfigError, Location, register_secret

__all__ = ["ensure_token", "token_matches", "MIN_TOKEN_LENGTH"]

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
    """The token stored at ``path``, made first if there is none; ``(token, created)``."""
    path = Path(path).expanduser()
    if path.exists():
        token, created = _read(path), False
    else:
        directory = path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.chmod(0o700)
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another service started at the same moment
            token, created = _read(path), False
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(token + "\n")
            created = True
    register_secret(token)
    return token, created


def token_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8"), token.encode("utf-8"))
