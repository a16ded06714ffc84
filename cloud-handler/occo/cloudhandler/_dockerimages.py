"""Getting a docker resource's image onto the engine (the ``origin`` key).

- ``dockerhub``: the engine pulls ``image:tag`` from the registry the image name names
  (Docker Hub when it names none), with the ``auth_data`` login when one matches;
- ``local``: the image must already be on the engine; it is used as is;
- ``file:///path/image.tar`` or ``http(s)://host/image.tar``: a tarball, read (or
  downloaded) by the orchestrator and sent to the engine. A ``docker save`` archive
  (it has ``manifest.json``) is loaded; anything else is taken as a root filesystem and
  imported as ``image:tag``, as Occopus did with its tutorial tarballs.

Whatever the origin, an engine that already has ``image:tag`` uses it as is (like
``docker run``'s default ``--pull=missing``): nothing is pulled or loaded again. Each
image is checked once per handler; concurrent creates of one image wait for one load.
"""

from __future__ import annotations

import json
import logging
import posixpath
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from docker import errors as docker_errors

from occo.util import scrub

from .errors import (
    BadResource,
    CloudUnavailable,
    CredentialsRejected,
    ImageNotFound,
    PermissionDenied,
)

if TYPE_CHECKING:
    from .dockerengine import DockerCloudHandler

__all__ = ["Origin", "parse_origin", "ImageStore", "archive_images"]

log = logging.getLogger(__name__)

PULL, LOCAL, FILE, HTTP = "dockerhub", "local", "file", "http"
_CHUNK = 1 << 20
_NOT_FOUND = ("manifest unknown", "not found", "does not exist", "no such image",
              "pull access denied")
_UNAUTHORIZED = ("unauthorized", "authentication required", "no basic auth credentials",
                 "incorrect username or password")


@dataclass(frozen=True, slots=True)
class Origin:
    """A parsed ``origin``: its kind and, for tarballs, the path or URL."""

    kind: str
    location: str = ""
    text: str = ""


def parse_origin(value: Any) -> Origin:
    """The origin a resource names; ValueError with the accepted forms otherwise."""
    forms = ("use dockerhub (pull), local (an image already on the engine), "
             "file:///absolute/path/image.tar or http(s)://host/path/image.tar")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"resource.origin must be a string: {forms}")
    text = value.strip()
    if text.lower() == PULL:
        return Origin(PULL, text=text)
    if text.lower() == LOCAL:
        return Origin(LOCAL, text=text)
    parts = urlsplit(text)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"resource.origin {text!r}: a file URL needs an absolute path, "
                             "as in file:///srv/images/app.tar")
        return Origin(FILE, path, text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return Origin(HTTP, text, text)
    raise ValueError(f"resource.origin {text!r} is not an origin OCCO knows: {forms}")


def archive_images(path: Path) -> list[dict[str, Any]] | None:
    """The images of a ``docker save`` archive (its ``manifest.json``), or None when the
    tarball is a plain root filesystem. Compressed tarballs are read too."""
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            name = posixpath.normpath(member.name)
            if name == "manifest.json" and member.isfile():
                handle = tar.extractfile(member)
                data = json.loads(handle.read()) if handle is not None else []
                return [item for item in data if isinstance(item, dict)]
    return None


def _image_id(config: str) -> str:
    """``sha256:<hex>`` from a manifest's Config (``<hex>.json`` or
    ``blobs/sha256/<hex>``)."""
    name = posixpath.basename(config)
    return "sha256:" + name.removesuffix(".json")


class ImageStore:
    """Makes sure each ``image:tag`` is on the handler's engine, once."""

    def __init__(self, handler: DockerCloudHandler, *, download_timeout: float = 300.0,
                 max_download_bytes: int = 8 << 30) -> None:
        self.handler = handler
        self.download_timeout = download_timeout
        self.max_download_bytes = max_download_bytes
        self._present: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def forget(self, ref: str) -> None:
        """``ref`` may have been removed from the engine: check it again next time."""
        with self._guard:
            self._present.discard(ref)

    def ensure(self, image: str, tag: str, origin: Origin,
               auth: Mapping[str, Any] | None) -> None:
        ref = f"{image}:{tag}"
        if ref in self._present:
            return
        with self._guard:
            lock = self._locks.setdefault(ref, threading.Lock())
        with lock:
            if ref in self._present:
                return
            if not self.exists(ref):
                self._provide(image, tag, origin, auth)
                if not self.exists(ref):
                    raise ImageNotFound(f"origin {origin.text} did not give the Docker engine "
                                        f"at {self.handler.url} the image {ref}")
            with self._guard:
                self._present.add(ref)

    def exists(self, ref: str) -> bool:
        api = self.handler.api()
        try:
            self.handler.call("inspect image", api.inspect_image, ref, passthrough=(404,))
        except docker_errors.NotFound:
            return False
        return True

    # ------------------------------------------------------------------ origins

    def _provide(self, image: str, tag: str, origin: Origin,
                 auth: Mapping[str, Any] | None) -> None:
        ref = f"{image}:{tag}"
        where = f"the Docker engine at {self.handler.url}"
        if origin.kind == LOCAL:
            raise ImageNotFound(f"{where} has no image {ref} (origin local uses images already "
                                "on the engine: load or pull it there first, or give origin "
                                "dockerhub or a tarball URL)")
        if origin.kind == PULL:
            self._pull(image, tag, auth)
        elif origin.kind == FILE:
            path = Path(origin.location)
            if not path.is_file():
                raise ImageNotFound(f"origin {origin.text}: there is no file {path} on the "
                                    "orchestrator's machine")
            self._send(path, image, tag, origin)
        else:
            with tempfile.TemporaryDirectory(prefix="occo-image-") as tmp:
                path = Path(tmp) / "image.tar"
                self._download(origin, path)
                self._send(path, image, tag, origin)
        log.info("image %s is on %s (origin %s)", ref, where, origin.text)

    def _pull(self, image: str, tag: str, auth: Mapping[str, Any] | None) -> None:
        api = self.handler.api()
        ref = f"{image}:{tag}"
        login = _login(auth)

        def pull() -> None:
            for item in api.pull(image, tag=tag, stream=True, decode=True, auth_config=login):
                if isinstance(item, dict) and item.get("error"):
                    raise docker_errors.APIError(str(item["error"]),
                                                 explanation=str(item["error"]))
        try:
            self.handler.call(f"pull {ref}", pull, passthrough=(None, 401, 403, 404, 500))
        except docker_errors.APIError as exc:
            said = scrub(str(exc.explanation or exc))
            low = said.lower()
            where = f"the Docker engine at {self.handler.url} could not pull {ref}"
            if exc.status_code in (401, 403) or any(m in low for m in _UNAUTHORIZED):
                if login is None:
                    raise PermissionDenied(f"{where}: the registry wants a login ({said}); add "
                                           "an auth_data entry with username and password for "
                                           "this resource") from exc
                entry = self.handler.auth.describe() if self.handler.auth else "(none)"
                raise CredentialsRejected(f"{where}: the registry refused the login of "
                                          f"auth_data entry {entry}: {said}") from exc
            if exc.status_code == 404 or any(m in low for m in _NOT_FOUND):
                raise ImageNotFound(f"{where}: the registry has no such image: {said}") from exc
            raise CloudUnavailable(f"{where}: {said}") from exc

    def _download(self, origin: Origin, path: Path) -> None:
        request = urllib.request.Request(origin.location, headers={"User-Agent": "occo"})
        try:
            with urllib.request.urlopen(request, timeout=self.download_timeout) as answer, \
                    open(path, "wb") as out:
                size = 0
                while chunk := answer.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_download_bytes:
                        raise BadResource(f"origin {origin.text} is larger than "
                                          f"{self.max_download_bytes} bytes (handler config "
                                          "max_download_bytes)")
                    out.write(chunk)
        except urllib.error.HTTPError as exc:
            said = f"HTTP {exc.code} {exc.reason}"
            if exc.code in (404, 410):
                raise ImageNotFound(f"origin {origin.text}: {said}") from exc
            if exc.code in (401, 403):
                raise PermissionDenied(f"origin {origin.text}: {said}") from exc
            raise CloudUnavailable(f"origin {origin.text} could not be downloaded: "
                                   f"{said}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CloudUnavailable(f"origin {origin.text} could not be downloaded: "
                                   f"{scrub(str(reason))}") from exc

    def _send(self, path: Path, image: str, tag: str, origin: Origin) -> None:
        """Load a ``docker save`` archive, or import a root filesystem, as image:tag."""
        ref = f"{image}:{tag}"
        try:
            images = archive_images(path)
        except (tarfile.TarError, ValueError, OSError) as exc:
            raise BadResource(f"origin {origin.text} is not a readable tar archive: "
                              f"{exc}") from exc
        api = self.handler.api()
        if images is None:
            def do_import() -> None:
                _check_stream(api.import_image_from_file(str(path), repository=image, tag=tag))
            self.handler.call(f"import {origin.text}", do_import)
            return

        def do_load() -> None:
            with open(path, "rb") as data:
                _check_stream(api.load_image(data))
        self.handler.call(f"load {origin.text}", do_load)
        if self.exists(ref):
            return
        tags = [t for item in images for t in item.get("RepoTags") or ()]
        if len(images) != 1 or not images[0].get("Config"):
            raise BadResource(f"origin {origin.text} holds the images "
                              f"{', '.join(tags) or '(untagged)'}; none is {ref}")
        image_id = _image_id(str(images[0]["Config"]))
        self.handler.call(f"tag {ref}", api.tag, image_id, image, tag)


def _login(auth: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The registry login of an ``auth_data`` entry (username, password, registry)."""
    if not auth or not auth.get("username"):
        return None
    login = {"username": str(auth["username"]), "password": str(auth.get("password") or "")}
    if auth.get("registry"):
        login["serveraddress"] = str(auth["registry"])
    if auth.get("email"):
        login["email"] = str(auth["email"])
    return login


def _check_stream(items: Any) -> None:
    """Raise the engine's error reported inside a streamed answer (load, import)."""
    if isinstance(items, (str, bytes)):
        lines: Iterable[Any] = (items.decode() if isinstance(items, bytes) else items) \
            .splitlines()
    else:
        lines = items
    for item in lines:
        if isinstance(item, (str, bytes)):
            text = item.decode() if isinstance(item, bytes) else item
            try:
                item = json.loads(text) if text.strip() else {}
            except ValueError:
                continue
        if isinstance(item, dict) and item.get("error"):
            raise docker_errors.APIError(str(item["error"]), explanation=str(item["error"]))

