"""Shared helpers: HTTP servers of the node programs in threads, node programs as real
processes on loopback, and a guard that no test leaves a node process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from occo.demo._node import _Server, http_request
from occo.demo.workspace import leftover_processes
from occo.util.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]   # the monorepo (docs/ is there)


class ThreadServer:
    """A node program's handler served in a thread on 127.0.0.1 (no signal handling)."""

    def __init__(self, handler, **context) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        for key, value in context.items():
            setattr(self.server, key, value)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def thread_servers():
    started: list[ThreadServer] = []

    def start(handler, **context) -> ThreadServer:
        server = ThreadServer(handler, **context)
        started.append(server)
        return server
    yield start
    for server in started:
        server.close()


class NodeProcess:
    """``python -m occo.demo.<module>`` as the local cloud would run it."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / "node.log"
        full_env = {"PATH": os.environ.get("PATH", os.defpath), **env}
        self.proc = subprocess.Popen([sys.executable, "-m", f"occo.demo.{module}", *args],
                                     env=full_env, cwd=cwd, stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.proc.args} did not stop on SIGTERM") from None


@pytest.fixture
def node_processes(tmp_path):
    started: list[NodeProcess] = []

    def start(module: str, *args: str, env: dict[str, str], name: str = "node") -> NodeProcess:
        cwd = tmp_path / f"{name}-{len(started)}"
        cwd.mkdir()
        node = NodeProcess(module, list(args), env, cwd)
        started.append(node)
        return node
    yield start
    for node in started:
        if node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()


def wait_http(url: str, status: int = 200, timeout: float = 15.0):
    """Poll ``url`` until it answers ``status``; returns the answer."""
    def answered():
        try:
            answer = http_request("GET", url, timeout=2)
        except OSError:
            return None
        return answer if answer.status == status else None
    return wait_until(answered, timeout=timeout, what=f"an answer from {url}")


@pytest.fixture
def demo_env(tmp_path):
    """The environment for a demo run: XDG directories inside tmp_path, so nothing of the
    user's is read or written. At teardown, kills any node process a failed test left."""
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env.pop("COLUMNS", None)
    yield env
    leaked = []
    for local in tmp_path.glob("**/local"):
        for infra in (p for p in local.iterdir() if p.is_dir() and p.name != "addresses"):
            for pid in leftover_processes(infra.name):
                leaked.append(pid)
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except OSError:
                    pass
    assert not leaked, f"node processes were left running: {leaked}"
