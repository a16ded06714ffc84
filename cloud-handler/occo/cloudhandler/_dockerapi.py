"""Plumbing between the docker backend and the Engine API: a counting SDK client and
the translation of the engine's HTTP errors into OCCO's.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import docker
from docker import errors as docker_errors

from occo.util import OccoError, scrub

from .errors import BadResource, CloudError, CloudUnavailable, ImageNotFound, PermissionDenied

__all__ = ["CountingClient", "operation", "translate"]


def operation(method: str, url: str) -> str:
    """``GET /containers/{id}/json``: an Engine API request, ids left out, for counting."""
    path = re.sub(r"^/v[0-9.]+", "", urlsplit(url).path)
    parts = path.strip("/").split("/")
    if len(parts) > 1 and parts[0] in ("containers", "images", "networks") and \
            parts[1] not in ("json", "create", "load", "prune"):
        last = parts[-1] if len(parts) > 2 else ""
        known = ("json", "start", "stop", "logs", "wait", "tag", "get", "kill", "history")
        return f"{method} /{parts[0]}/{{id}}" + (f"/{last}" if last in known else "")
    return f"{method} {path}"


class CountingClient(docker.APIClient):
    """The SDK's low-level client; counts every Engine API request it sends."""

    def __init__(self, calls: Counter[str], lock: threading.Lock, **kwargs: Any) -> None:
        self._occo_calls = calls
        self._occo_lock = lock
        super().__init__(**kwargs)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        with self._occo_lock:
            self._occo_calls[operation(method, url)] += 1
        return super().request(method, url, *args, **kwargs)


def translate(exc: docker_errors.APIError, what: str, url: str) -> OccoError:
    """The OCCO error for an Engine API error answer (HTTP status, explanation)."""
    status = exc.status_code
    said = scrub(str(exc.explanation or exc))
    where = f"the Docker engine at {url}"
    if isinstance(exc, docker_errors.ImageNotFound):
        return ImageNotFound(f"{where} has no such image ({what}): {said}")
    if status == 400:
        return BadResource(f"{where} refused to {what}: {said}")
    if status in (401, 403):
        return PermissionDenied(f"{where} does not allow to {what}: {said}")
    if status in (502, 503, 504):
        return CloudUnavailable(f"{where} failed to {what} (HTTP {status}): {said}")
    return CloudError(f"{where} failed to {what} (HTTP {status}): {said}")
