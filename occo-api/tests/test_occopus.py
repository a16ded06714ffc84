"""The occopus-* commands: Occopus's options and outputs over the same Occo methods.

The installed console scripts run as subprocesses where their output matters to scripts
(occopus-build's stdout is the id alone); the other steps call the same entry function
in-process, which is quicker and equally real (SQLite state, the dummy cloud in a file).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rest_support import DESCRIPTION, Setup

from occo.api.occopus import PROGRAMS, run

BIN = Path(sys.executable).parent


@pytest.fixture
def setup(tmp_path, monkeypatch) -> Setup:
    s = Setup(tmp_path)
    s.write(dummy_store=None)
    for key, value in s.env().items():
        if key.startswith("XDG_"):
            monkeypatch.setenv(key, value)
    return s


def call(prog: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(prog, list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def script(setup: Setup, prog: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / prog), *args], env=setup.env(), text=True,
                          capture_output=True, timeout=120)


def test_every_command_is_installed_and_answers_help(setup):
    for prog in PROGRAMS:
        proc = script(setup, prog, "--help")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"usage: {prog} ")
        assert "--cfg CFG_PATH" in proc.stdout


@pytest.mark.parametrize("prog, args", [
    ("occopus-build", ["infra.yaml"]), ("occopus-destroy", ["-i", "x"]),
    ("occopus-maintain", ["-i", "x"]), ("occopus-scale", ["-i", "x", "-n", "app", "-c", "1"]),
    ("occopus-import", ["nodes.yaml"]), ("occopus-rest-service", []),
])
def test_an_unknown_option_is_a_usage_error(prog, args, capsys):
    with pytest.raises(SystemExit) as exc:
        run(prog, [*args, "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {prog} ")
    assert err.endswith(f"{prog}: error: unrecognized arguments: --bogus\n")


def test_an_unknown_option_of_the_installed_script(setup):
    proc = script(setup, "occopus-build", "--cfg", str(setup.config_file), "--bogus",
                  str(setup.root / "infra.yaml"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.endswith("occopus-build: error: unrecognized arguments: --bogus\n")


def test_build_scale_maintain_report_destroy(setup):
    cfg = ["--cfg", str(setup.config_file)]
    code, out, err = call("occopus-import", *cfg, str(setup.root / "nodes.yaml"))
    assert (code, out) == (0, "Successfully imported nodes: app_t, db_t, slow_t, stuck_t\n")

    proc = script(setup, "occopus-build", *cfg, "--parallelize", str(setup.root / "infra.yaml"))
    assert proc.returncode == 0, proc.stderr
    infra_id = proc.stdout.strip()
    assert proc.stdout == f"{infra_id}\n" and len(infra_id) == 36   # the id alone
    assert "note: --parallelize is not needed" in proc.stderr
    assert f"Submitted infrastructure: {infra_id} (shop)" in proc.stderr
    assert "List of nodes/ip addresses:\ndb:\n  198.18." in proc.stderr

    assert call("occopus-maintain", *cfg, "-l")[1] == f"{infra_id}\n"

    code, out, err = call("occopus-scale", *cfg, "-i", infra_id, "-n", "app", "-c", "+5")
    assert code == 0
    assert out == "app: +5 queued; target 3 after the next maintenance pass\n"
    assert "warning: app: 6 instances requested, clamped to 3 (min 1, max 3)\n" in err
    assert f"warning: infrastructure {infra_id} is not maintained" in err

    code, out, err = call("occopus-maintain", *cfg, "-i", infra_id)
    assert code == 0 and err.startswith(f"{infra_id}: ready (created 2, dropped 0")

    report = setup.root / "report.yaml"
    code, out, err = call("occopus-maintain", *cfg, "-i", infra_id, "-r", "-f", "app",
                          "-o", str(report))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (f"Report of infrastructure {infra_id} (shop): ready, "
                        "4/4 instances ready")
    assert lines[1] == "app:" and len(lines) == 6 and "db:" not in lines
    written = yaml.safe_load(report.read_text())
    assert list(written) == ["app"] and written["app"]["scaling"]["actual"] == 3
    address = sorted(written["app"]["instances"].values(),
                     key=lambda i: i["resource_address"])[0]["resource_address"]
    assert f"  {address} (" in out

    code, out, err = call("occopus-scale", *cfg, "-i", infra_id, "-n", "app", "-f", address)
    assert (code, out) == (0, f"app: remove {address} queued; target 2 after the next "
                              "maintenance pass\n")
    assert call("occopus-maintain", *cfg, "-i", infra_id)[0] == 0
    code, out, _ = call("occopus-maintain", *cfg, "-i", infra_id, "-r", "-f", "app")
    assert address not in out and out.count("  198.18.") == 2

    code, out, err = call("occopus-destroy", *cfg, "-i", infra_id)
    assert code == 0 and err.endswith(f"shop ({infra_id}): destroyed, 3 node(s) dropped\n")
    code, out, err = call("occopus-maintain", *cfg, "-l")
    assert (code, out, err) == (0, "", "No active infrastructure!\n")


def test_a_bad_description_is_exit_2_with_located_errors_and_creates_nothing(setup):
    cfg = ["--cfg", str(setup.config_file)]
    assert call("occopus-import", *cfg, str(setup.root / "nodes.yaml"))[0] == 0
    bad = setup.root / "bad.yaml"
    bad.write_text(DESCRIPTION.replace("{min: 1, max: 3}", "{min: 4, max: 3}"))
    proc = script(setup, "occopus-build", *cfg, str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"occopus-build: error: 1 error:\n  {bad}:5:50: "
                           "nodes[1].scaling.min: min (4) must not be greater than max (3)\n")
    assert call("occopus-maintain", *cfg, "-l")[1] == ""


def test_scale_refuses_what_it_cannot_do(setup):
    cfg = ["--cfg", str(setup.config_file)]
    assert call("occopus-import", *cfg, str(setup.root / "nodes.yaml"))[0] == 0
    code, infra_id, _ = call("occopus-build", *cfg, str(setup.root / "infra.yaml"))
    infra_id = infra_id.strip()
    assert code == 0
    cases = [
        (["-n", "web", "-c", "1"], f"infrastructure {infra_id} has no node 'web'; known: app, db"),
        (["-n", "app", "-c", "0"], "a change of 0 instances changes nothing: give +N or -N"),
        (["-n", "app", "-s", "-2"], "a node count must be >= 0, got -2"),
        (["-n", "app", "-f", "10.0.0.99"], f"node 'app' of infrastructure shop ({infra_id}) "
                                           "has no instance with the id or address "
                                           "'10.0.0.99'; its instances: "),
    ]
    for args, message in cases:
        code, out, err = call("occopus-scale", *cfg, "-i", infra_id, *args)
        assert (code, out) == (2, ""), args
        assert err.startswith(f"occopus-scale: error: {message}") and err.endswith("\n"), err
    code, out, err = call("occopus-scale", *cfg, "-i", "nope", "-n", "app", "-c", "1")
    assert code == 2 and err.startswith("occopus-scale: error: no infrastructure 'nope'")
    code, _, err = call("occopus-scale", *cfg, "-i", infra_id, "-n", "app", "-s", "0")
    assert code == 0 and "warning: app: 0 instances requested, clamped to 1 (min 1, max 3)" \
        in err


@pytest.mark.parametrize("args, message", [
    (["-i", "x", "-o", "out.yaml"], "-o/--output and -f/--filter go with -r/--report"),
    (["-i", "x", "-f", "app"], "-o/--output and -f/--filter go with -r/--report"),
    (["-i", "x", "-t", "5"], "-t/--interval goes with -c/--cyclic"),
    ([], "give -i INFRA_ID (or -l to list the infrastructures)"),
])
def test_maintain_option_mistakes_are_usage_errors(setup, args, message):
    code, out, err = call("occopus-maintain", "--cfg", str(setup.config_file), *args)
    assert code == 2 and out == ""
    assert err.startswith("usage: occopus-maintain ")
    assert err.endswith(f"occopus-maintain: error: {message}\n")


def test_report_of_an_unknown_node(setup):
    cfg = ["--cfg", str(setup.config_file)]
    assert call("occopus-import", *cfg, str(setup.root / "nodes.yaml"))[0] == 0
    infra_id = call("occopus-build", *cfg, str(setup.root / "infra.yaml"))[1].strip()
    code, out, err = call("occopus-maintain", *cfg, "-i", infra_id, "-r", "-f", "web")
    assert code == 2
    assert err == (f"occopus-maintain: error: infrastructure {infra_id} has no node 'web'; "
                   "known: app, db\n")
