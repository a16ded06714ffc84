"""The REST service as users run it: a separate process (``occopus-rest-service``, ``occo
serve``), killed and restarted. Maintenance of an attached infrastructure lives in the
store, so a scale request made after a restart is carried out by the new process."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rest_support import Client, Setup, built

from occo.util.testing import wait_until

BIN = Path(sys.executable).parent
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/")


class Service:
    """A service process whose stdout is read line by line in a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.port = int(self.expect(LISTENING).group(1))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern.pattern} within {timeout} s; "
                                     f"got {self.seen}") from None
            if line is None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"the service ended ({self.proc.wait()}): {self.seen}\n"
                                     f"{err}")
            self.seen.append(line)
            found = pattern.search(line)
            if found:
                return found

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=60)
            self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
            return code
        finally:
            self.reader.join(timeout=10)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()


@pytest.fixture
def setup(tmp_path) -> Setup:
    s = Setup(tmp_path)
    s.write(dummy_store=None)  # the dummy cloud in a file: it outlives a service process
    return s


def test_attached_infrastructure_is_maintained_after_a_restart(setup):
    env = setup.env()
    imported = subprocess.run([str(BIN / "occopus-import"), "--cfg", str(setup.config_file),
                               str(setup.root / "nodes.yaml")], env=env, text=True,
                              capture_output=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "Successfully imported nodes: app_t, db_t, slow_t, stuck_t\n"

    first = Service([str(BIN / "occopus-rest-service"), "--cfg", str(setup.config_file),
                     "--port", "0", "--parallelize"], env)
    try:
        token = setup.token_file.read_text().strip()
        assert first.seen[0].startswith(f"a new REST token was made and stored in "
                                        f"{setup.token_file} (mode 0600)")
        assert first.seen[1] == f"  {token}"
        client = Client(first.port, token)
        status, body, _ = client.post("/infrastructures/", (setup.root / "infra.yaml").read_text())
        assert status == 202, body
        infra_id = body["infraid"]
        wait_until(lambda: built(client, infra_id), timeout=60, what="build finished")
        assert client.post(f"/infrastructures/{infra_id}/detach")[1]["maintained"] is False
        assert client.post(f"/infrastructures/{infra_id}/attach")[1]["maintained"] is True
        client.close()
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = Service([str(BIN / "occo"), "--config", str(setup.config_file), "serve",
                      "--port", "0"], env)
    try:
        assert second.seen[0] == f"REST token: in {setup.token_file}"
        assert not any(token in line for line in second.seen)
        client = Client(second.port, token)
        status, body, _ = client.post(f"/infrastructures/{infra_id}/scaleup/app")
        assert status == 202 and body["target"] == 2 and body["maintained"] is True

        def app_ready() -> bool:
            _, shape, _ = client.get(f"/infrastructures/{infra_id}")
            app = shape["app"]
            return app["scaling"]["actual"] == 2 and all(
                i["state"] == "ready" for i in app["instances"].values())

        wait_until(app_ready, timeout=60, what="scale-up carried out by the restarted service")
        _, events, _ = client.get(f"/infrastructures/{infra_id}/events")
        assert any(e["type"] == "scaling" and e["details"].get("target") == 2
                   for e in events["events"])
        client.close()
    finally:
        code = second.stop(signal.SIGTERM)
    assert code == 0
    assert second.expect(re.compile(r"^stopped")).group(0) == "stopped"
    assert "Traceback" not in second.stderr and token not in second.stderr


def test_service_refuses_a_token_file_others_can_read(setup):
    setup.token_file.parent.mkdir(mode=0o700)
    setup.token_file.write_text("a-token-of-sufficient-length\n")
    setup.token_file.chmod(0o640)
    proc = subprocess.run([str(BIN / "occopus-rest-service"), "--cfg", str(setup.config_file),
                           "--port", "0"], env=setup.env(), text=True, capture_output=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == (f"occopus-rest-service: error: {setup.token_file}: the REST token "
                           "file is accessible to other users (mode 0640); run: chmod 600 "
                           f"{setup.token_file}\n")
