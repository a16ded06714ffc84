"""Secret values in stored data: encrypted with a key kept outside the store.

Descriptions and implementations can carry values that templates need later but that must
not be readable from the state file or Redis: anything under a secret-named key
(:func:`occo.util.secrets.is_secret_key`: ``password``, ``db_pass``, ``token``, ...). Before
a dict is stored, :meth:`SecretBox.seal` replaces each such value by
``{"__occo_secret__": "<Fernet token>"}``; :meth:`SecretBox.unseal` turns it back when the
record is read. Credentials (any key named ``auth_data``) are dropped, never stored.

The key is a Fernet key (AES-128-CBC with HMAC-SHA256, from the ``cryptography`` library)
in a file of its own, mode 0600, by default ``$XDG_CONFIG_HOME/occo/store.key``
(``~/.config/occo/store.key``). It is created the first time a secret value is stored, so
a user without secrets never gets one. Every process and machine that shares a store must
share the key file; without it the secret values cannot be read back (the rest of the
store can).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from occo.util import is_secret_key, register_secret

from .errors import SecretKeyError

__all__ = ["SecretBox", "SECRET_MARK", "DROPPED_KEYS", "default_key_path"]

log = logging.getLogger(__name__)

SECRET_MARK = "__occo_secret__"
DROPPED_KEYS = frozenset({"auth_data"})


def default_key_path() -> Path:
    """``$XDG_CONFIG_HOME/occo/store.key`` (``~/.config/occo/store.key``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "occo" / "store.key"


class SecretBox:
    """Encrypts and decrypts the secret values of JSON-like data.

    ``SecretBox(path)`` uses (and on first need creates) the key file ``path``;
    ``SecretBox.ephemeral()`` keeps a fresh key in memory only (the memory store).
    Thread-safe; the key is read once.
    """

    def __init__(self, key_path: str | os.PathLike[str] | None = None, *,
                 key: bytes | None = None) -> None:
        self.key_path = Path(key_path) if key_path is not None else None
        self._fernet: Fernet | None = Fernet(key) if key is not None else None
        self._raw: bytes | None = key
        self._lock = threading.Lock()

    @classmethod
    def ephemeral(cls) -> SecretBox:
        return cls(key=Fernet.generate_key())

    def describe(self) -> str:
        """Where the key is kept, for messages (never the key itself)."""
        if self.key_path is not None:
            return f"the key file {self.key_path}"
        if self._fernet is not None:
            return "the key given in memory"
        return f"the key file {default_key_path()}"

    # ------------------------------------------------------------------ the key

    def _key(self, create: bool) -> Fernet:
        if self._fernet is not None:
            return self._fernet
        with self._lock:
            if self._fernet is None:
                path = self.key_path or default_key_path()
                if not path.exists() and create:
                    self._create(path)
                self._raw = self._read(path)
                self._fernet = Fernet(self._raw)
            return self._fernet

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            info = path.stat()
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise SecretKeyError(f"the store's key file {path} is readable by others "
                                     f"(mode {stat.S_IMODE(info.st_mode):o}); "
                                     f"run: chmod 600 {path}")
            data = path.read_bytes().strip()
        except FileNotFoundError:
            raise SecretKeyError(f"the store holds encrypted secret values but their key file "
                                 f"{path} is missing; copy it from the machine that wrote "
                                 f"them") from None
        except OSError as exc:
            raise SecretKeyError(f"cannot read the store's key file {path}: "
                                 f"{exc.strerror}") from exc
        try:
            Fernet(data)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(f"the store's key file {path} does not hold a valid key "
                                 f"(expected 32 url-safe base64-encoded bytes)") from exc
        return data

    @staticmethod
    def _create(path: Path) -> None:
        """Write a new key atomically: several processes may race to create it."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".store.key.", dir=path.parent)
        except OSError as exc:
            raise SecretKeyError(f"cannot create the store's key file {path}: "
                                 f"{exc.strerror}") from exc
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, Fernet.generate_key() + b"\n")
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)       # fails if another process created it first
                log.info("created the store's key file %s", path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def derive(self, purpose: str, *, create: bool = True) -> str:
        """A secret for ``purpose``, derived from the key (HMAC-SHA256): the same in every
        process that holds this key file, so it is never stored; registered as a secret
        so no log line shows it. Raises :class:`SecretKeyError` without a key (and
        without ``create``)."""
        self._key(create)
        assert self._raw is not None
        digest = hmac.new(self._raw, b"occo-derived:" + purpose.encode(), hashlib.sha256)
        secret = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        register_secret(secret)
        return secret

    # ------------------------------------------------------------------ values

    def seal(self, value: Any) -> Any:
        """A copy of ``value`` with secret values encrypted and credentials dropped."""
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and k.lower() in DROPPED_KEYS:
                    continue
                if is_secret_key(k) and v not in (None, "") and not _is_sealed(v):
                    text = json.dumps(v, separators=(",", ":"))
                    out[k] = {SECRET_MARK: self._key(True).encrypt(text.encode()).decode()}
                else:
                    out[k] = self.seal(v)
            return out
        if isinstance(value, (list, tuple)):
            return [self.seal(item) for item in value]
        return value

    def unseal(self, value: Any) -> Any:
        """``value`` with every sealed secret decrypted (in place for dicts and lists)."""
        if isinstance(value, dict):
            if _is_sealed(value):
                try:
                    plain = self._key(False).decrypt(value[SECRET_MARK].encode())
                except InvalidToken:
                    raise SecretKeyError(
                        f"secret values in the store were encrypted with another key than "
                        f"{self.describe()}; use the key file of the process that wrote "
                        f"them") from None
                return json.loads(plain)
            for k, v in value.items():
                if isinstance(v, (dict, list)):
                    value[k] = self.unseal(v)
            return value
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, (dict, list)):
                    value[i] = self.unseal(item)
        return value


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SECRET_MARK in value
