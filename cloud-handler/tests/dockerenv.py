"""A real Docker engine for the tests (and the benchmark), and the images they run.

:func:`provide` finds an engine or starts one:

1. ``OCCO_TEST_DOCKER_HOST`` names one (it must answer);
2. else ``DOCKER_HOST`` or ``unix:///var/run/docker.sock``, if an engine answers there;
3. else, when this is root and either ``CI=true`` or ``OCCO_TEST_DOCKER=start``: Debian's
   ``docker.io`` (and ``busybox-static``) are installed if missing, and ``dockerd`` is
   started on a private socket with its own data and exec directories,
   ``--bridge=none --iptables=false --ip6tables=false`` (no default bridge, no firewall
   changes on the machine); :meth:`Engine.shutdown` stops it and removes its directories;
4. else there is no engine, and the reason is returned (the tests skip with it).

Nothing can be pulled on the project's machines, so the images are built here from a
static busybox: a root filesystem in a tarball, imported through the Engine API (what
``docker import`` does). The base image runs ``sleep`` by default; the image tarballs of
:data:`IMAGES` carry the scripts their node definitions run: OCCO's corpus
(``relay-docker``: ``occo_relay_beacon``, ``occo_relay_listener``) and the two Occopus
docker tutorials (``busybox_helloworld`` and ``busybox_ping``, with a ``/root/start.sh``
that behaves like the tutorials' own). The tests get an internal bridge network of their
own (no gateway to the outside): containers on it have addresses of their own and reach
each other, and nothing leaves the machine.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker

BASE_REPO = "occo-test/busybox"
APPLETS = ("sh", "echo", "sleep", "ping", "cat", "true", "false", "ls", "env", "hostname",
           "ip", "nc", "wget", "printf", "seq")
START_TIMEOUT = 60.0
APT_TIMEOUT = 900.0

HELLOWORLD_SH = """#!/bin/sh
# Like the Occopus docker-helloworld tutorial's image: say the message, then stay up.
echo "$message"
echo "$message" > /root/message.txt
exec sleep 1000000
"""

PING_SH = """#!/bin/sh
# Like the Occopus docker-ping tutorial's sender: ping the receiver, forever.
echo "pinging $target_ip"
exec ping "$target_ip"
"""

# The corpus's relay-docker beacon (occo.util.testing): announce itself, then stay up.
RELAY_BEACON_SH = """#!/bin/sh
echo "$ANNOUNCEMENT ($BEACON_ID)"
exec sleep 1000000
"""

# The corpus's relay-docker listener: ping the beacon ROUNDS times, say so, then stay up.
RELAY_LISTEN_SH = """#!/bin/sh
echo "listening for $BEACON_ADDRESS"
ping -c "$ROUNDS" "$BEACON_ADDRESS" && echo "heard the beacon $ROUNDS times"
exec sleep 1000000
"""

#: Image name -> the files its tarball adds to the base root filesystem.
IMAGES: dict[str, dict[str, str]] = {
    "occo_relay_beacon": {"opt/relay/beacon.sh": RELAY_BEACON_SH},
    "occo_relay_listener": {"opt/relay/listen.sh": RELAY_LISTEN_SH},
    "busybox_helloworld": {"root/start.sh": HELLOWORLD_SH},
    "busybox_ping": {"root/start.sh": PING_SH},
}


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (statically linked)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:   # 64-bit only
                return False
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def static_busybox() -> Path | None:
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        path = Path(candidate)
        if path.is_file() and _is_static_elf(path):
            return path
    return None


def rootfs_tar(busybox: Path, files: dict[str, str] | None = None) -> bytes:
    """A root filesystem tarball: busybox, its applets, /root and the given files (their
    directories made as needed)."""
    buffer = io.BytesIO()
    directories = ["bin", "root", "tmp", "etc"]
    for name in files or {}:
        parents = Path(name).parents
        directories += [str(p) for p in reversed(parents) if str(p) != "."
                        and str(p) not in directories]
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        everything = {"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", **(files or {})}
        for name, text in everything.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def answers(endpoint: str, timeout: float = 3.0) -> bool:
    """Whether a Docker engine answers ``/_ping`` at ``endpoint``."""
    try:
        client = docker.APIClient(base_url=endpoint, version="1.24", timeout=timeout)
        try:
            return client.ping() is True
        finally:
            client.close()
    except Exception:   # any failure means: no usable engine here
        return False


@dataclass
class Engine:
    """A Docker engine the tests may use, with the test images and network on it."""

    endpoint: str
    workdir: Path
    session: str
    daemon: subprocess.Popen | None = None
    daemon_dir: Path | None = None
    network: str = ""
    base_image: str = ""
    tarballs: dict[str, Path] = field(default_factory=dict)
    _client: docker.APIClient | None = None

    @property
    def client(self) -> docker.APIClient:
        """The tests' own SDK client (to look at what the handler did, or to break it)."""
        if self._client is None:
            self._client = docker.APIClient(base_url=self.endpoint, version="auto",
                                            timeout=60)
        return self._client

    @property
    def tag(self) -> str:
        """A tag no one else uses, for the images the tests make."""
        return f"occo-test-{self.session}"

    def resource(self, **extra: object) -> dict:
        """A docker resource section for the base image on the test network."""
        repo, tag = self.base_image.rsplit(":", 1)
        return {"type": "docker", "endpoint": self.endpoint, "origin": "local",
                "image": repo, "tag": tag, "network": self.network, **extra}

    def prepare(self, busybox: Path) -> None:
        """Import the base image, write the tarballs of IMAGES, make the test network."""
        self.base_image = f"{BASE_REPO}:{self.tag}"
        data = rootfs_tar(busybox)
        self.client.import_image_from_data(
            data, repository=BASE_REPO, tag=self.tag,
            changes=['CMD ["/bin/sh", "-c", "echo ready; exec sleep 1000000"]'])
        for name, files in IMAGES.items():
            path = self.workdir / f"{name}.tar"
            path.write_bytes(rootfs_tar(busybox, files))
            self.tarballs[name] = path
        self.network = f"occo-test-{self.session}"
        self.client.create_network(self.network, driver="bridge", internal=True,
                                   labels={"occo-test": self.session})

    def containers_of_tests(self) -> list[dict]:
        """Containers made from the tests' images or joined to their network."""
        seen: dict[str, dict] = {}
        filters = [{"network": [self.network]}] if self.network else []
        for item in self.client.images(filters={"reference": [f"*:{self.tag}"]}):
            filters.append({"ancestor": [item["Id"]]})
        for flt in filters:
            for item in self.client.containers(all=True, filters=flt):
                seen[item["Id"]] = item
        return list(seen.values())

    def shutdown(self) -> None:
        """Remove what the tests made; stop the daemon this module started, if any."""
        try:
            if self.daemon is None and self._client is not None:
                for item in self.containers_of_tests():
                    self.client.remove_container(item["Id"], force=True)
                if self.network:
                    self.client.remove_network(self.network)
                for item in self.client.images(filters={"reference": [f"*:{self.tag}"]}):
                    self.client.remove_image(item["Id"], force=True)
        finally:
            if self._client is not None:
                self._client.close()
            if self.daemon is not None:
                stop_daemon(self.daemon, self.daemon_dir)
            shutil.rmtree(self.workdir, ignore_errors=True)


def _apt_install(packages: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=APT_TIMEOUT, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-800:]}")


def start_daemon(directory: Path) -> tuple[subprocess.Popen, str]:
    """``dockerd`` on ``<directory>/docker.sock`` with its own directories."""
    socket_path = directory / "docker.sock"
    endpoint = f"unix://{socket_path}"
    log = open(directory / "dockerd.log", "wb")
    argv = ["dockerd", "-H", endpoint, "--data-root", str(directory / "data"),
            "--exec-root", str(directory / "exec"), "--pidfile", str(directory / "docker.pid"),
            "--bridge=none", "--iptables=false", "--ip6tables=false"]
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while not (socket_path.exists() and answers(endpoint, timeout=2)):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_daemon(process, None)
            tail = (directory / "dockerd.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"dockerd did not start (exit {process.poll()}):\n{tail}")
        time.sleep(0.1)   # polling a starting daemon, with a deadline
    return process, endpoint


def stop_daemon(process: subprocess.Popen, directory: Path | None) -> None:
    """SIGTERM (dockerd stops its containers and containerd), a bounded wait, then
    SIGKILL to its process group; unmount and remove its directory."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:   # shims and containerd of this daemon live in its process group
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if directory is None:
        return
    prefix = str(directory) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(directory, ignore_errors=True)


def provide(workdir: Path, say: Callable[[str], None] = lambda _: None) -> Engine | str:
    """An engine for the tests, or the reason there is none."""
    session = uuid.uuid4().hex[:8]
    wanted = os.environ.get("OCCO_TEST_DOCKER_HOST")
    candidates = [wanted] if wanted else [os.environ.get("DOCKER_HOST") or
                                          "unix:///var/run/docker.sock"]
    endpoint = next((c for c in candidates if c and answers(c)), None)
    if wanted and endpoint is None:
        return f"OCCO_TEST_DOCKER_HOST={wanted} does not answer"
    daemon = daemon_dir = None
    if endpoint is None:
        allowed = os.environ.get("CI") == "true" or os.environ.get("OCCO_TEST_DOCKER") == "start"
        if os.geteuid() != 0 or not allowed:
            return (f"no Docker engine answers at {candidates[0]}, and one is started only as "
                    "root with CI=true or OCCO_TEST_DOCKER=start")
        missing = [p for p, ok in (("docker.io", shutil.which("dockerd")),
                                   ("busybox-static", static_busybox())) if not ok]
        if missing:
            say(f"installing {' '.join(missing)} with apt-get")
            _apt_install(missing)
        daemon_dir = Path(tempfile.mkdtemp(prefix="occo-dockerd-"))
        try:
            daemon, endpoint = start_daemon(daemon_dir)
        except BaseException:
            shutil.rmtree(daemon_dir, ignore_errors=True)
            raise
    busybox = static_busybox()
    engine = Engine(endpoint=endpoint, workdir=workdir, session=session, daemon=daemon,
                    daemon_dir=daemon_dir)
    if busybox is None:
        engine.shutdown()
        return "no statically linked busybox to build test images from (Debian: busybox-static)"
    try:
        engine.prepare(busybox)
    except BaseException:
        engine.shutdown()
        raise
    return engine


@dataclass
class Registry:
    """A private Docker registry on 127.0.0.1 (Debian's docker-registry) with one htpasswd
    user; only that user may pull or push. Plain HTTP: the engine treats 127.0.0.0/8
    registries as insecure, tries HTTPS and falls back to HTTP, and reports the error of
    its last try (behind TLS, an auth error would show as the fallback's reset
    connection)."""

    address: str
    username: str
    password: str
    process: subprocess.Popen
    directory: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def _bcrypt(password: str) -> str:
    """A bcrypt hash (``$2b$``), which the registry's htpasswd file wants, from libxcrypt's
    ``crypt_gensalt``/``crypt`` through ctypes: the standard library's ``crypt`` module,
    which called the same functions, is gone from Python 3.13."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("crypt")
    if name is None:
        raise RuntimeError("libcrypt (libxcrypt) not found: it hashes the registry password")
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2b$", 12, None, 0)  # NULL: libxcrypt reads the OS's random
    hashed = lib.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2b$"):
        raise RuntimeError("libcrypt could not make a bcrypt hash")
    return hashed.decode()


def start_registry(say: Callable[[str], None] = lambda _: None) -> Registry | str:
    """A private registry on a free loopback port, or the reason there is none."""
    if shutil.which("docker-registry") is None:
        allowed = os.environ.get("CI") == "true" or os.environ.get("OCCO_TEST_DOCKER") == "start"
        if os.geteuid() != 0 or not allowed:
            return ("no docker-registry binary; it is installed (Debian: docker-registry) "
                    "only as root with CI=true or OCCO_TEST_DOCKER=start")
        say("installing docker-registry with apt-get")
        _apt_install(["docker-registry"])
    import socket

    directory = Path(tempfile.mkdtemp(prefix="occo-registry-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    username, password = "occo-robot", uuid.uuid4().hex
    (directory / "htpasswd").write_text(f"{username}:{_bcrypt(password)}\n")
    (directory / "config.yml").write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {directory}/data}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        f"auth: {{htpasswd: {{realm: occo-test, path: {directory}/htpasswd}}}}\n"
        "log: {level: warn}\n")
    log = open(directory / "registry.log", "wb")
    process = subprocess.Popen(["docker-registry", "serve", str(directory / "config.yml")],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    registry = Registry(f"127.0.0.1:{port}", username, password, process, directory)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return registry
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (directory / "registry.log").read_text(errors="replace")[-1500:]
                registry.stop()
                raise RuntimeError(f"docker-registry did not start:\n{tail}") from None
            time.sleep(0.05)   # polling a starting server, with a deadline
