"""The VM deployment files in deploy/: the systemd units pass ``systemd-analyze verify``
and ``systemd-analyze security``, and the cloud-config passes cloud-init's own schema
check and carries exactly those units (it is made from them by deploy/cloud-init/render.py).

Every check is also shown to fail on a broken input, so that a pass means something.
cloud-init is installed from Debian's package when it is missing and this runs as root;
otherwise the cloud-init tests fail and say so (they never skip).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from occotool import system

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
CLOUD_INIT = ROOT / "deploy" / "cloud-init"
CLOUD_CONFIG = CLOUD_INIT / "occo.yaml"

#: seconds any one command may take (apt-get gets longer)
TIMEOUT = 60
APT_TIMEOUT = 600
#: the highest exposure level ``systemd-analyze security`` may give an OCCO service (the
#: units score 1.4, "OK", on a scale from 0 to 10)
MAX_EXPOSURE = 2.0
#: the units and instances checked, and the services among them
CHECKED = ["occo-serve.service", "occo-worker@cloudhandler.service",
           "occo-worker@servicecomposer.service", "occo-worker@infraprocessor.service",
           "occo-maintain.service", "occo-maintain.timer"]
SERVICES = ["occo-serve.service", "occo-worker@.service", "occo-maintain.service"]
#: what every OCCO service sets, the same in each
HARDENING = {
    "User": "occo", "Group": "occo", "UMask": "0077", "StateDirectory": "occo",
    "ReadWritePaths": "/var/lib/occo", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
    "PrivateTmp": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    "SystemCallFilter": "@system-service", "KillSignal": "SIGTERM",
    "Environment": "XDG_CONFIG_HOME=/etc XDG_DATA_HOME=/var/lib/occo/data "
                   "PYTHONDONTWRITEBYTECODE=1",
}
#: the settings that make the sandbox (keys starting so)
SANDBOX = ("Protect", "Private", "Restrict", "SystemCall", "Lock", "Capability", "NoNew",
           "Ambient", "RemoveIPC", "ReadWrite", "State", "UMask")


def run(cmd: list[str], timeout: float = TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    """``cmd``'s result, its output as text; a command that hangs fails the test."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


def sandbox(settings: dict[str, list[str]]) -> dict[str, list[str]]:
    """The sandboxing part of a unit's [Service] settings."""
    return {key: values for key, values in settings.items() if key.startswith(SANDBOX)}


def service_settings(path: Path) -> dict[str, list[str]]:
    """The ``Key=value`` lines of a unit file's [Service] section, each key's values in
    order (comments and other sections left out)."""
    settings: dict[str, list[str]] = {}
    section = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


# ------------------------------------------------------------------------------ systemd

@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    """The systemd-analyze command."""
    found = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not os.access(found, os.X_OK):
        pytest.fail("systemd-analyze is missing: install Debian's systemd package")
    return found


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory) -> Path:
    """A file system root for ``systemd-analyze --root``: the system's own units (the
    targets OCCO's units depend on), OCCO's units in /etc/systemd/system, and stand-ins
    for /opt/occo/bin/occo and python, so that verify finds the commands the units run."""
    root = tmp_path_factory.mktemp("root")
    system_units = next((p for p in (Path("/usr/lib/systemd/system"),
                                     Path("/lib/systemd/system")) if p.is_dir()), None)
    if system_units is None:
        pytest.fail("no systemd unit directory (/usr/lib/systemd/system) to verify against")
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    binaries = root / "opt/occo/bin"
    binaries.mkdir(parents=True)
    for name in ("occo", "python"):
        (binaries / name).write_text("#!/bin/sh\nexit 0\n")
        (binaries / name).chmod(0o755)
    target = root / "etc/systemd/system"
    target.mkdir(parents=True)
    for unit in UNITS.iterdir():
        shutil.copy(unit, target / unit.name)
    return root


def verify(systemd_analyze: str, root: Path, unit: str) -> list[str]:
    """What ``systemd-analyze verify`` finds wrong with ``unit`` (in ``root``'s
    /etc/systemd/system): its output lines about the unit, and a failure exit. Unknown keys
    and values it cannot parse are only warnings to it ("ignoring"); here they count."""
    proc = run([systemd_analyze, "verify", f"--root={root}", "--man=no",
                f"/etc/systemd/system/{unit}"])
    name = unit.split("@")[0] + "@" if "@" in unit else unit
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if name in line]
    if proc.returncode != 0:
        problems.append(f"exit status {proc.returncode}: {proc.stdout}{proc.stderr}".strip())
    return problems


def exposure(systemd_analyze: str, root: Path, unit: str) -> tuple[float, int, str]:
    """``systemd-analyze security --offline``'s overall exposure level of ``unit``, its
    exit status with ``--threshold`` at MAX_EXPOSURE, and its output."""
    proc = run([systemd_analyze, "security", "--offline=true", f"--root={root}", "--man=no",
                f"--threshold={round(MAX_EXPOSURE * 10)}", f"/etc/systemd/system/{unit}"])
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    assert found, f"no exposure level in the output:\n{proc.stdout}\n{proc.stderr}"
    return float(found.group(1)), proc.returncode, proc.stdout + proc.stderr


def test_the_units_are_there():
    assert sorted(p.name for p in UNITS.iterdir()) == sorted(
        ["occo-serve.service", "occo-worker@.service", "occo-maintain.service",
         "occo-maintain.timer"])


@pytest.mark.parametrize("unit", CHECKED)
def test_unit_passes_systemd_analyze_verify(systemd_analyze, unit_root, unit):
    assert verify(systemd_analyze, unit_root, unit) == []


@pytest.mark.parametrize("change", [
    ("PrivateTmp=yes", "PrivateTmpp=yes"),                        # an unknown key
    ("TimeoutStopSec=90", "TimeoutStopSec=ninety"),               # a value it cannot parse
    ("ExecStart=/opt/occo/bin/occo serve",
     "ExecStart=/opt/occo/bin/occo-missing serve"),               # no such command
    ("ExecStart=/opt/occo/bin/occo serve", "ExecStart=occo serve"),  # not an absolute path
], ids=["unknown-key", "bad-value", "missing-command", "relative-command"])
def test_verify_finds_a_broken_unit(systemd_analyze, unit_root, change):
    old, new = change
    text = (UNITS / "occo-serve.service").read_text(encoding="utf-8")
    assert old in text
    broken = unit_root / "etc/systemd/system/occo-broken.service"
    broken.write_text(text.replace(old, new))
    try:
        assert verify(systemd_analyze, unit_root, "occo-broken.service") != []
    finally:
        broken.unlink()


@pytest.mark.parametrize("unit", ["occo-serve.service", "occo-worker@cloudhandler.service",
                                  "occo-maintain.service"])
def test_service_exposure_is_low(systemd_analyze, unit_root, unit):
    level, status, output = exposure(systemd_analyze, unit_root, unit)
    assert level <= MAX_EXPOSURE and status == 0, output


def test_exposure_check_finds_an_unhardened_service(systemd_analyze, unit_root):
    plain = unit_root / "etc/systemd/system/occo-plain.service"
    plain.write_text("[Service]\nExecStart=/opt/occo/bin/occo serve\nUser=occo\n")
    try:
        level, status, _ = exposure(systemd_analyze, unit_root, "occo-plain.service")
    finally:
        plain.unlink()
    assert level > MAX_EXPOSURE and status != 0


@pytest.mark.parametrize("unit", SERVICES)
def test_service_is_hardened_like_the_others(unit):
    settings = service_settings(UNITS / unit)
    assert {key: settings.get(key, [None])[0] for key in HARDENING} == HARDENING
    assert "TimeoutStopSec" in settings
    assert sandbox(settings) == sandbox(service_settings(UNITS / "occo-serve.service"))


def test_long_running_services_restart_on_failure():
    for unit in ("occo-serve.service", "occo-worker@.service"):
        settings = service_settings(UNITS / unit)
        assert settings["Restart"] == ["on-failure"], unit
        assert settings["RestartPreventExitStatus"] == ["2"], unit


def test_maintain_unit_runs_one_pass_over_every_infrastructure():
    settings = service_settings(UNITS / "occo-maintain.service")
    assert settings["Type"] == ["oneshot"]
    assert settings["ExecStart"] == ["/opt/occo/bin/occo maintain --once"]


# --------------------------------------------------------------------------- cloud-init

@pytest.fixture(scope="session")
def cloud_init() -> str:
    """The cloud-init command, installed from Debian's package first if it is missing."""
    found = shutil.which("cloud-init")
    if found is None:
        print("installing Debian's cloud-init for its schema check (apt-get)", file=sys.stderr)
        reason = system.apt_install(["cloud-init"], timeout=APT_TIMEOUT)
        found = shutil.which("cloud-init")
        if found is None:
            pytest.fail(f"cloud-init is missing and could not be installed ({reason}); "
                        "install it (apt-get install cloud-init) to check the cloud-config")
    return found


@pytest.fixture(scope="session")
def cloud_init_python(cloud_init) -> list[str]:
    """The interpreter cloud-init runs on (from its script's first line): it has cloud-init's
    schema and the YAML parser that reads the cloud-config on a VM."""
    first = Path(cloud_init).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#!"), f"{cloud_init} is not a script: {first!r}"
    return first[2:].split()


def schema_check(cloud_init: str, path: Path) -> subprocess.CompletedProcess:
    """cloud-init's own check of a cloud-config file (``cloud-init schema``; cloud-init
    before 22.2 called it ``cloud-init devel schema``)."""
    proc = run([cloud_init, "schema", "--config-file", str(path)])
    if "invalid choice: 'schema'" in proc.stderr:
        proc = run([cloud_init, "devel", "schema", "--config-file", str(path)])
    return proc


#: run by cloud-init's Python: the cloud-config's top-level keys that no cloud-init module
#: knows (its schema lets them through), and write_files as {path: content}
READ_CLOUD_CONFIG = """
import json, sys, yaml
from cloudinit.config.schema import get_schema
schema = get_schema()
known = set()
for part in schema["allOf"]:
    known |= set(schema["$defs"][part["$ref"].rsplit("/", 1)[1]].get("properties", {}))
with open(sys.argv[1], encoding="utf-8") as f:
    config = yaml.safe_load(f)
print(json.dumps({"unknown": sorted(set(config) - known),
                  "files": {f["path"]: f.get("content") for f in config.get("write_files", [])}}))
"""


def read_cloud_config(python: list[str], path: Path) -> dict:
    """``path`` as cloud-init reads it (READ_CLOUD_CONFIG's answer)."""
    proc = run([*python, "-c", READ_CLOUD_CONFIG, str(path)])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def load_render():
    """deploy/cloud-init/render.py as a module."""
    spec = importlib.util.spec_from_file_location("occo_cloud_init_render",
                                                  CLOUD_INIT / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cloud_config_passes_cloud_init_schema(cloud_init):
    proc = schema_check(cloud_init, CLOUD_CONFIG)
    assert proc.returncode == 0 and "Valid cloud-config" in proc.stdout, \
        proc.stdout + proc.stderr


@pytest.mark.parametrize("text", [
    "#cloud-config\nruncmd: 5\n",
    "#cloud-config\nusers: 3\n",
    "#cloud-config\nwrite_files:\n  - path: /etc/x\n    defer: maybe\n",
    "#cloud-config\nwrite_files:\n  - path: /etc/x\n    permisions: '0644'\n",
    "runcmd: [ls]\n",                                    # no #cloud-config header
    "#cloud-config\nruncmd: [ls\n",                      # not YAML
], ids=["runcmd-number", "users-number", "defer-not-boolean", "misspelt-key", "no-header",
        "not-yaml"])
def test_schema_check_finds_an_invalid_cloud_config(cloud_init, tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = schema_check(cloud_init, path)
    assert proc.returncode != 0 and "Valid cloud-config" not in proc.stdout


def test_cloud_config_has_only_known_top_level_keys(cloud_init_python, tmp_path):
    assert read_cloud_config(cloud_init_python, CLOUD_CONFIG)["unknown"] == []
    typo = tmp_path / "typo.yaml"                # cloud-init's schema check lets it through
    typo.write_text("#cloud-config\nrun_cmd: [ls]\npackages: [python3-venv]\n")
    assert read_cloud_config(cloud_init_python, typo)["unknown"] == ["run_cmd"]


def test_cloud_config_is_rendered_from_the_units():
    proc = run([sys.executable, str(CLOUD_INIT / "render.py"), "--stdout"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == CLOUD_CONFIG.read_text(encoding="utf-8"), \
        "deploy/cloud-init/occo.yaml is out of date: run python3 deploy/cloud-init/render.py"
    assert run([sys.executable, str(CLOUD_INIT / "render.py"), "--check"]).returncode == 0


def test_cloud_config_writes_each_unit_as_it_is(cloud_init_python):
    files = read_cloud_config(cloud_init_python, CLOUD_CONFIG)["files"]
    for unit in UNITS.iterdir():
        assert files[f"/etc/systemd/system/{unit.name}"] == unit.read_text(encoding="utf-8")
    assert not any("auth_data" in path or "token" in path for path in files)


def test_cloud_config_installs_from_the_placeholder_index_only(cloud_init_python):
    files = read_cloud_config(cloud_init_python, CLOUD_CONFIG)["files"]
    assert "index-url = https://pypi.internal/simple/" in files["/opt/occo/pip.conf"]
    text = CLOUD_CONFIG.read_text(encoding="utf-8")
    assert "CHANGE-ME" in text and "pypi.org" not in text


def test_render_refuses_a_template_that_misses_or_invents_a_unit():
    render = load_render()
    template = (CLOUD_INIT / "occo.yaml.in").read_text(encoding="utf-8")
    with pytest.raises(render.RenderError, match="leaves out occo-maintain.timer"):
        render.render(template.replace("%unit occo-maintain.timer", "[Timer]"))
    with pytest.raises(render.RenderError, match="no unit 'occo-nothing.service'"):
        render.render(template + "      %unit occo-nothing.service\n")
    with pytest.raises(render.RenderError, match="included twice"):
        render.render(template + "      %unit occo-serve.service\n")


def test_render_indents_a_unit_under_its_directive(tmp_path):
    render = load_render()
    (tmp_path / "a.service").write_text("[Service]\n\nExecStart=/bin/true\n")
    template = "x:\n  content: |\n    %unit a.service\n"
    out = render.render(template, units=tmp_path)
    assert out == "x:\n  content: |\n    [Service]\n\n    ExecStart=/bin/true\n"
    (tmp_path / "a.service").write_text("[Service]\nExecStart=/bin/true\n\n")
    with pytest.raises(render.RenderError, match="exactly one newline"):
        render.render(template, units=tmp_path)  # "|" would drop the last empty line
