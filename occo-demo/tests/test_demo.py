"""The demo end to end, in a short variant, as ``./bootstrap.sh demo`` runs it: real local
nodes, real HTTP through the load balancer, a real kill and heal, scaling, destroy; and
that it stops whatever it started when a step fails or it is interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from occo.demo.workspace import leftover_processes

TIMEOUT = 120


def run_demo(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "occo.demo", *args], env=env, text=True,
                          capture_output=True, timeout=TIMEOUT)


def infra_ids(output: str) -> list[str]:
    return sorted(set(re.findall(r"infrastructure id: ([0-9a-f-]{36})", output)))


def assert_nothing_left(demo_dir: Path, output: str) -> None:
    ids = infra_ids(output)
    assert ids, output
    for infra_id in ids:
        assert leftover_processes(infra_id) == []
        assert not (demo_dir / "local" / infra_id).exists() or \
            not any((demo_dir / "local" / infra_id).iterdir())


def test_webapp_demo_builds_serves_heals_scales_and_destroys(tmp_path, demo_env):
    demo_dir = tmp_path / "demo"
    proc = run_demo(demo_env, "--dir", str(demo_dir), "--scale-to", "3", "--requests", "2",
                    "--timeout", "40")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    steps = re.findall(r"^==> \[(\d)/6\] (.*)$", out, re.M)
    assert [n for n, _ in steps] == ["1", "2", "3", "4", "5", "6"]
    assert re.search(r"^OK webapp", out, re.M)
    assert re.search(r"^\$ \S*occo --config \S+/occo.yaml build \S+/examples/webapp/infra.yaml$",
                     out, re.M)
    lb_url = re.search(r"^The load balancer: (http://127\.\d+\.\d+\.\d+:8000/)$", out, re.M)
    assert lb_url, out
    assert "  | OCCO demo shop" in out and "  | page views (all web nodes): " in out
    # the first spread went to both web nodes; after scaling, to all three
    spreads = re.findall(r"more requests through the load balancer were served by:\n"
                         r"((?:      web .*\n)+)", out)
    assert len(spreads) == 3
    assert len(spreads[0].splitlines()) == 2
    assert len(spreads[2].splitlines()) == 3
    killed = re.search(r"^\$ kill -9 (\d+)$", out, re.M)
    assert killed
    assert re.search(r"node\.failed\s+web [0-9a-f]{8}", out)
    assert re.search(r"node\.ready\s+web [0-9a-f]{8}\s+at 127\.", out)
    assert "nothing left: no node directory, no process of the infrastructure." in out
    assert re.search(r"^demo finished after [\d.]+ s$", out, re.M)
    assert_nothing_left(demo_dir, out)


def test_ping_demo_kept_then_cleared_by_the_next_run(tmp_path, demo_env):
    demo_dir = tmp_path / "demo"
    kept = run_demo(demo_env, "ping", "--keep", "--dir", str(demo_dir))
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "  | reached: yes" in kept.stdout
    assert "  | the receiver says: Hello World! I am the receiver node created by OCCO." \
        in kept.stdout
    assert "Kept (--keep): infrastructure" in kept.stdout
    [infra_id] = infra_ids(kept.stdout)
    assert len(leftover_processes(infra_id)) == 2       # the two nodes still run
    again = run_demo(demo_env, "ping", "--dir", str(demo_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "An earlier demo run kept infrastructures here (ping); destroying them first." \
        in again.stdout
    assert leftover_processes(infra_id) == []
    assert_nothing_left(demo_dir, kept.stdout + again.stdout)


def test_a_failing_build_exits_non_zero_and_leaves_nothing(tmp_path, demo_env):
    example = tmp_path / "broken"
    example.mkdir()
    (example / "infra.yaml").write_text(
        "infra_name: broken\nnodes:\n  - {name: db, type: crashing}\n")
    (example / "node_definitions.yaml").write_text(
        "'node_def:crashing':\n  - resource:\n      type: local\n"
        "      command: echo cannot start; exit 3\n    health_check: {ping: false}\n")
    demo_dir = tmp_path / "demo"
    proc = run_demo(demo_env, str(example), "--dir", str(demo_dir), "--timeout", "30")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "demo: step failed: build: `occo build` exited with status 1" in proc.stdout
    assert re.search(r"^demo FAILED after [\d.]+ s$", proc.stdout, re.M)
    assert "exit code 3" in proc.stdout or "cannot start" in proc.stdout
    for infra in (demo_dir / "local").iterdir():
        if infra.is_dir() and infra.name != "addresses":
            assert leftover_processes(infra.name) == []
            assert not any(infra.iterdir())


def test_an_interrupted_demo_destroys_what_it_built(tmp_path, demo_env):
    demo_dir = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "occo.demo", "--dir", str(demo_dir),
                             "--timeout", "40"], env=demo_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("The load balancer: "):
                proc.send_signal(signal.SIGTERM)
                break
        seen.append(proc.stdout.read())
        code = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(seen)
    assert code == 130, out
    assert "demo: interrupted" in out
    assert "nothing left: no node directory, no process of the infrastructure." in out
    assert_nothing_left(demo_dir, out)


@pytest.mark.parametrize("args, message", [
    (["--scale-to", "9"], "--scale-to must be between 2 and 6 (web's min and max), got 9"),
    (["--requests", "0"], "--requests must be at least 1, got 0"),
    (["--timeout", "-1"], "--timeout must be a positive number of seconds, got -1"),
    (["nosuch"], "nosuch: not an example (one of webapp, ping) nor a directory with an "
                 "infra.yaml"),
])
def test_bad_usage_is_exit_2_with_the_reason(demo_env, tmp_path, args, message):
    proc = run_demo(demo_env, *args, "--dir", str(tmp_path / "demo"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "demo").exists()


def test_a_dir_that_is_a_file_is_refused(demo_env, tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    proc = run_demo(demo_env, "--dir", str(target))
    assert proc.returncode == 2
    assert f"{target} exists and is not a directory; give the demo a directory with --dir" \
        in proc.stderr
