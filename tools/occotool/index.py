"""The internal package index: a local pypiserver, and uploads to any index with twine.

A local index keeps everything in one directory (default ``env/index/``)::

    packages/   the wheels it serves
    htpasswd    who may upload (user ``occo``)
    password    that user's password, readable by its owner only (0600)
    server.json port and URL of the server, and its pid while it runs (kept after a stop,
                so the next start serves at the same URL: OCCO_INDEX_URL stays right)
    server.log  the server's log

It binds 127.0.0.1 only, never falls back to a public index, and refuses uploads without
the password. Uploads go through twine; the password is read from ``OCCO_INDEX_PASSWORD``
(or ``TWINE_PASSWORD``, or ``--password-file``) and handed to twine in its environment,
never on a command line.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .envs import INDEX_ENV, bin_of, run, tools_env
from .errors import ToolError
from .packages import Package
from .wheels import normalise, wheel_identity

USER = "occo"
PASSWORD_ENV = "OCCO_INDEX_PASSWORD"


def default_dir(root: Path) -> Path:
    return root / "env" / "index"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _state(directory: Path) -> dict | None:
    path = directory / "server.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _write_state(directory: Path, state: dict) -> None:
    partial = directory / f"server.json.{os.getpid()}"
    partial.write_text(json.dumps(state))
    os.replace(partial, directory / "server.json")


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pypi-server" in cmdline


def running(directory: Path) -> dict | None:
    """The state of the index running from ``directory``, or None."""
    state = _state(directory)
    return state if state and state.get("pid") and _alive(state["pid"]) else None


def _port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (connections of a stopped server waiting in
    TIME_WAIT do not count: the server binds with SO_REUSEADDR too)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _choose_port(directory: Path, port: int | None) -> int:
    """``port`` when given (0: a free one); else the port this index had before, so its
    URL stays the same; else a free one."""
    if port is None:
        before = (_state(directory) or {}).get("port")
        if before:
            if not _port_free(before):
                raise ToolError(f"port {before}, where the index in {directory} ran before "
                                f"({_state(directory).get('simple')}), is in use by another "
                                "program: pass --port PORT, or --port 0 for a free one", 2)
            return before
        port = 0
    if port and not _port_free(port):
        raise ToolError(f"port {port} on 127.0.0.1 is in use by another program", 2)
    return port or _free_port()


def start(root: Path, directory: Path, port: int | None = None) -> dict:
    """Start a local index (or report the one already running there) on ``port``; by
    default on the port it had before (kept in server.json), else on a free one."""
    directory.mkdir(parents=True, exist_ok=True)
    state = running(directory)
    if state:
        if port and port != state["port"]:
            raise ToolError(f"the index in {directory} is already running at "
                            f"{state['simple']}: stop it first to move it to port {port}", 2)
        return state
    port = _choose_port(directory, port)
    tools = tools_env(root)
    packages = directory / "packages"
    packages.mkdir(exist_ok=True)
    password_file = directory / "password"
    if not password_file.is_file():
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(24))
    os.chmod(password_file, 0o600)
    htpasswd = directory / "htpasswd"
    run([bin_of(tools, "python"), "-c",
         "import sys; from passlib.apache import HtpasswdFile\n"
         "h = HtpasswdFile(sys.argv[1], new=True, default_scheme='sha256_crypt')\n"
         "h.set_password(sys.argv[2], open(sys.argv[3]).read().strip()); h.save()",
         htpasswd, USER, password_file], what="writing the index's htpasswd")
    log = open(directory / "server.log", "ab")
    proc = subprocess.Popen(
        [str(bin_of(tools, "pypi-server")), "run", "-i", "127.0.0.1", "-p", str(port),
         "-P", str(htpasswd), "-a", "update", "--disable-fallback", str(packages)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise ToolError(f"the index did not start; see {directory / 'server.log'}")
        try:
            if _get(url + "simple/", timeout=1)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise ToolError(f"the index did not answer on {url} within 30 s")
        time.sleep(0.1)
    state = {"pid": proc.pid, "port": port, "url": url, "simple": url + "simple/"}
    _write_state(directory, state)
    return state


def stop(directory: Path) -> bool:
    """Stop the local index; True if one was running. Its port and URL stay recorded."""
    state = _state(directory)
    if not state or not state.get("pid"):
        return False
    pid = state["pid"]
    _write_state(directory, {**state, "pid": None})
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def status(directory: Path) -> str:
    state = _state(directory)
    live = running(directory)
    wheels = sorted(p.name for p in (directory / "packages").glob("*.whl")) \
        if (directory / "packages").is_dir() else []
    if live:
        where = f"running at {live['simple']}"
    elif state and state.get("simple"):
        where = f"stopped (index start serves at {state['simple']} again)"
    else:
        where = "stopped"
    lines = [f"index directory: {directory}",
             f"state: {where}",
             f"packages: {len(wheels)} wheels in {directory / 'packages'}",
             f"password: {directory / 'password'} (user {USER})"]
    return "\n".join(lines)


class _Links(html.parser.HTMLParser):
    """File names and their sha256 (from the link's #sha256= fragment) on a simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str | None] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        name = data.strip()
        if name.endswith((".whl", ".tar.gz", ".zip")):
            fragment = (self._href or "").partition("#")[2]
            self.files[name] = fragment[len("sha256="):] if fragment.startswith("sha256=") \
                else None


def index_files(simple_url: str, project: str) -> dict[str, str | None]:
    """{file name: sha256 or None} the index holds for ``project`` (empty when none)."""
    code, body = _get(f"{simple_url.rstrip('/')}/{normalise(project)}/")
    if code == 404:
        return {}
    if code != 200:
        raise ToolError(f"the index {simple_url} answered HTTP {code} for {project}")
    parser = _Links()
    parser.feed(body)
    return parser.files


def resolve_index(root: Path, index: str | None) -> str:
    """The simple URL to use: --index, then OCCO_INDEX_URL, then the local index."""
    url = index or os.environ.get(INDEX_ENV)
    if not url:
        state = running(default_dir(root))
        if state:
            url = state["simple"]
    if not url:
        raise ToolError(f"no index: pass --index URL, set {INDEX_ENV}, or start the local "
                        "one with tools/occo-tool index start", 2)
    return url if url.endswith("/") else url + "/"


def _password(password_file: Path | None) -> str:
    if password_file:
        return password_file.read_text().strip()
    for name in (PASSWORD_ENV, "TWINE_PASSWORD"):
        if os.environ.get(name):
            return os.environ[name]
    raise ToolError(f"no password for the index: set {PASSWORD_ENV} or pass --password-file "
                    "(a local index keeps its password in env/index/password)", 2)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def upload(root: Path, pkg: Package, occo_dists: set[str], *, index: str | None,
           password_file: Path | None) -> list[str]:
    """Upload the wheelhouse of ``pkg``; print every wheel uploaded or skipped, and why.

    The package's own version must be new to the index (bump it otherwise); a wheel file
    the index already has is skipped (the dependencies every wheelhouse carries), but an
    occo sibling whose wheel differs from the index's copy of the same version is refused.
    Returns the names of the wheels uploaded.
    """
    wheelhouse = pkg.wheelhouse
    simple = resolve_index(root, index)
    password = _password(password_file)
    try:
        code, _ = _get(simple)
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise ToolError(f"the index {simple} is unreachable: {reason}") from exc
    if code != 200:
        raise ToolError(f"the index {simple} answered HTTP {code}")
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels:
        raise ToolError(f"{wheelhouse} has no wheels: run package.sh first", 2)
    to_send: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for wheel in wheels:
        name, version = wheel_identity(wheel.name)
        held = index_files(simple, name)
        same_version = [f for f in held if f.endswith(".whl") and wheel_identity(f)[1] == version]
        if name == normalise(pkg.dist) and same_version:
            raise ToolError(f"{pkg.dist} {version} is already on the index {simple}; bump its "
                            f"version in {_shown(pkg.version_file, root)} (__version__ = "
                            f"\"{pkg.version}\") before uploading")
        if name in occo_dists and same_version and held.get(wheel.name) != _sha256(wheel):
            raise ToolError(f"{name} {version} on the index {simple} differs from the wheel in "
                            f"{wheelhouse}; release {name} with a new version first")
        if wheel.name in held:
            skipped.append((wheel.name, "already on the index"))
        else:
            to_send.append(wheel)
    upload_url = simple[: -len("simple/")] if simple.endswith("/simple/") else simple
    if to_send:
        env = dict(os.environ, TWINE_USERNAME=USER, TWINE_PASSWORD=password,
                   TWINE_NON_INTERACTIVE="1")
        twine = bin_of(tools_env(root), "twine")
        proc = subprocess.run([str(twine), "upload", "--disable-progress-bar",
                               "--repository-url", upload_url, *map(str, to_send)], env=env,
                              text=True, capture_output=True)
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).replace(password, "***")
            if "403" in out or "401" in out:
                raise ToolError(f"the index {upload_url} refused the upload: wrong user or "
                                "password")
            raise ToolError(f"twine upload to {upload_url} failed:\n{out[-2000:]}")
    print(f"{pkg.dist} {pkg.version} to {upload_url}:", flush=True)
    for wheel in to_send:
        print(f"  uploaded  {wheel.name}")
    for name, why in skipped:
        print(f"  skipped   {name} ({why})")
    if to_send:
        print(f"uploaded {len(to_send)}, skipped {len(skipped)} already on the index",
              flush=True)
    else:
        print("nothing to upload: the index has every wheel", flush=True)
    return [w.name for w in to_send]
