"""The internal package index: a local pypiserver, and uploads to any index with twine.

A local index keeps everything in one directory (default ``env/index/``)::

    packages/   the wheels it serves
    htpasswd    who may upload (user ``occo``)
    password    that user's password, readable by its owner only (0600)
    server.json pid, port and URL of the running server
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


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pypi-server" in cmdline


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def start(root: Path, directory: Path, port: int = 0) -> dict:
    """Start a local index (or report the one already running there)."""
    directory.mkdir(parents=True, exist_ok=True)
    state = _state(directory)
    if state and _alive(state["pid"]):
        return state
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
    port = port or _free_port()
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
    (directory / "server.json").write_text(json.dumps(state))
    return state


def stop(directory: Path) -> bool:
    """Stop the local index; True if one was running."""
    state = _state(directory)
    if not state:
        return False
    (directory / "server.json").unlink()
    pid = state["pid"]
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
    running = bool(state and _alive(state["pid"]))
    wheels = sorted(p.name for p in (directory / "packages").glob("*.whl")) \
        if (directory / "packages").is_dir() else []
    lines = [f"index directory: {directory}",
             f"state: {'running at ' + state['simple'] if running else 'stopped'}",
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
        state = _state(default_dir(root))
        if state and _alive(state["pid"]):
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


def upload(root: Path, wheelhouse: Path, releasing: str, occo_dists: set[str], *,
           index: str | None, password_file: Path | None) -> list[str]:
    """Upload the wheelhouse of the package ``releasing``.

    The package's own version must be new to the index (bump it otherwise); its
    dependencies' wheels are skipped when the index already has them, but an occo sibling
    whose wheel differs from the index's copy of the same version is refused.
    """
    simple = resolve_index(root, index)
    password = _password(password_file)
    try:
        code, _ = _get(simple)
    except OSError as exc:
        raise ToolError(f"the index {simple} is unreachable: {getattr(exc, 'reason', exc)}")
    if code != 200:
        raise ToolError(f"the index {simple} answered HTTP {code}")
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels:
        raise ToolError(f"{wheelhouse} has no wheels: run package.sh first", 2)
    to_send: list[Path] = []
    for wheel in wheels:
        name, version = wheel_identity(wheel.name)
        held = index_files(simple, name)
        same_version = [f for f in held if f.endswith(".whl") and wheel_identity(f)[1] == version]
        if not same_version:
            to_send.append(wheel)
        elif name == releasing:
            raise ToolError(f"{name} {version} is already on the index {simple}; "
                            "bump its version (occo/<package>/version.py) before uploading")
        elif name in occo_dists and held.get(wheel.name) != _sha256(wheel):
            raise ToolError(f"{name} {version} on the index {simple} differs from the wheel in "
                            f"{wheelhouse}; release {name} with a new version first")
        # else: a dependency the index already has (external, or the same occo wheel)
    if not to_send:
        print("nothing to upload: the index has every wheel", flush=True)
        return []
    upload_url = simple[: -len("simple/")] if simple.endswith("/simple/") else simple
    env = dict(os.environ, TWINE_USERNAME=USER, TWINE_PASSWORD=password,
               TWINE_NON_INTERACTIVE="1")
    twine = bin_of(tools_env(root), "twine")
    proc = subprocess.run([str(twine), "upload", "--disable-progress-bar", "--repository-url",
                           upload_url, *map(str, to_send)], env=env, text=True,
                          capture_output=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).replace(password, "***")
        if "403" in out or "401" in out:
            raise ToolError(f"the index {upload_url} refused the upload: wrong user or password")
        raise ToolError(f"twine upload to {upload_url} failed:\n{out[-2000:]}")
    print(f"uploaded {len(to_send)} wheels to {upload_url}", flush=True)
    return [w.name for w in to_send]
