"""A Docker engine for the deploy tests, and OCCO's image built on it the way an operator
builds it (deploy/make-base.sh, deploy/build-image.sh), without pulling anything.

The engine: ``OCCO_TEST_DOCKER_HOST`` if given, else one that answers at ``DOCKER_HOST``
or the default socket, else, as root with ``CI=true`` or ``OCCO_TEST_DOCKER=start``, a
private ``dockerd`` (``--bridge=none --iptables=false --ip6tables=false``: no bridge, no
firewall change) with its own data directory, stopped and removed afterwards; Debian's
``docker.io`` and ``debootstrap`` are installed first when missing. Containers use the
host's network (there is no bridge), so they reach the machine's RabbitMQ and Redis on
loopback, and the services they run are bound to 127.0.0.1.

The base's root filesystem is cached in env/cache/deploy (debootstrap once per machine:
about a minute, 270 MB); the image itself is built in each test session (about 15 s).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from occotool import system

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 600.0


@dataclass
class Docker:
    """The docker command line pointed at one engine."""

    host: str

    def run(self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT,
            input: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout, input=input,
                              env={**os.environ, "DOCKER_HOST": self.host})
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc

    def answers(self) -> bool:
        try:
            return self.run("version", "--format", "{{.Server.Version}}", check=False,
                            timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def script(self, path: Path, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run one of deploy/'s scripts against this engine; its last line."""
        proc = subprocess.run([str(path), *args], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "DOCKER_HOST": self.host})
        if proc.returncode != 0:
            raise AssertionError(f"{path.name} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout.strip().splitlines()[-1]

    def inspect(self, container: str) -> dict:
        return json.loads(self.run("inspect", container).stdout)[0]


class Daemon:
    """A private dockerd in a directory of its own."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="occo-deploy-dockerd-"))
        self.host = f"unix://{self.directory}/docker.sock"
        log = open(self.directory / "dockerd.log", "wb")
        self.process = subprocess.Popen(
            ["dockerd", "-H", self.host, "--data-root", str(self.directory / "data"),
             "--exec-root", str(self.directory / "exec"),
             "--pidfile", str(self.directory / "dockerd.pid"),
             "--bridge=none", "--iptables=false", "--ip6tables=false"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not Docker(self.host).answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.directory / "dockerd.log").read_text(errors="replace")[-1500:]
                self.stop()
                raise RuntimeError(f"dockerd did not start:\n{tail}")
            time.sleep(0.2)   # a starting daemon, polled with a deadline

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:   # containerd and the shims are in its process group
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=10)
        prefix = str(self.directory) + "/"
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def apt_install(packages: list[str]) -> None:
    problem = system.apt_install(packages, timeout=COMMAND_TIMEOUT)
    if problem:
        raise RuntimeError(problem)


def engine() -> tuple[Docker, Daemon | None] | str:
    """An engine to build and run on (and the daemon started for it), or why there is
    none."""
    wanted = os.environ.get("OCCO_TEST_DOCKER_HOST")
    if wanted:
        found = Docker(wanted)
        if found.answers():
            return found, None
        return f"OCCO_TEST_DOCKER_HOST={wanted} does not answer"
    missing = [pkg for pkg, cmd in (("docker.io", "dockerd"), ("debootstrap", "debootstrap"))
               if not shutil.which(cmd)]
    allowed = os.environ.get("CI") == "true" or os.environ.get("OCCO_TEST_DOCKER") == "start"
    if missing and os.geteuid() == 0 and allowed:
        apt_install(missing)
    existing = Docker(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    if shutil.which("docker") and existing.answers():
        return existing, None
    if os.geteuid() != 0 or not allowed or not shutil.which("dockerd"):
        return ("no Docker engine answers, and one is started only as root with CI=true or "
                "OCCO_TEST_DOCKER=start")
    daemon = Daemon()
    return Docker(daemon.host), daemon


def build_image(docker: Docker, tag: str) -> str:
    """OCCO's image, from a base made here and the occo-api wheelhouse, as the docs say."""
    base = docker.script(ROOT / "deploy" / "make-base.sh", f"{tag}-base",
                         str(ROOT / "env" / "cache" / "deploy"))
    return docker.script(ROOT / "deploy" / "build-image.sh", tag,
                         str(ROOT / "occo-api" / "wheelhouse"), base)
