"""The release round trip, as an operator lives it, and the index's refusals.

Build every wheelhouse, start a local index on a free loopback port, upload everything with
each package's upload.sh, install occo-api into a fresh virtualenv with that index as the
only index, import every occo.* package there and run `occo --version`. The index is
stopped afterwards whatever happened.
"""

from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import ROOT, clean_env, occo_tool

from occotool import pythons
from occotool.packages import build_order, discover

ORDER = build_order(discover(ROOT))


@pytest.fixture(scope="module")
def index(tmp_path_factory, wheelhouses):
    directory = tmp_path_factory.mktemp("index")
    proc = occo_tool("index", "start", "--dir", str(directory))
    assert proc.returncode == 0, proc.stderr
    simple = proc.stdout.split("index running at ", 1)[1].split()[0]
    try:
        yield {"dir": directory, "simple": simple,
               "password": (directory / "password").read_text().strip()}
    finally:
        occo_tool("index", "stop", "--dir", str(directory))
    assert "state: stopped" in occo_tool("index", "status", "--dir", str(directory)).stdout


def upload(pkg_dir: str, simple: str, password: str | None):
    extra = {"OCCO_INDEX_URL": simple}
    if password is not None:
        extra["OCCO_INDEX_PASSWORD"] = password
    return subprocess.run([str(ROOT / pkg_dir / "upload.sh")], text=True, capture_output=True,
                          env=clean_env(**extra))


def test_index_is_private_to_loopback_and_protects_uploads(index):
    assert index["simple"].startswith("http://127.0.0.1:")
    assert oct((index["dir"] / "password").stat().st_mode & 0o777) == "0o600"
    status = occo_tool("index", "status", "--dir", str(index["dir"])).stdout
    assert f"running at {index['simple']}" in status
    proc = upload("util", index["simple"], "not-the-password")
    assert proc.returncode != 0
    assert "refused the upload: wrong user or password" in proc.stderr
    assert "not-the-password" not in proc.stdout + proc.stderr


def test_round_trip_install_from_the_index_alone(index, tmp_path):
    said = {}
    for pkg in ORDER:
        proc = upload(pkg.directory, index["simple"], index["password"])
        assert proc.returncode == 0, f"{pkg.directory}: {proc.stdout}{proc.stderr}"
        said[pkg.directory] = proc.stdout
    # each upload lists every wheel of its wheelhouse: uploaded, or skipped and why
    util, compiler = (discover(ROOT)[d] for d in ("occo-util", "occo-compiler"))
    util_wheel = f"occo_util-{util.version}-py3-none-any.whl"
    compiler_wheel = f"occo_compiler-{compiler.version}-py3-none-any.whl"
    lines = said["compiler"].splitlines()
    assert lines[0] == f"occo-compiler {compiler.version} to {index['simple'][:-7]}:"
    assert f"  uploaded  {compiler_wheel}" in lines
    assert f"  skipped   {util_wheel} (already on the index)" in lines
    sent_with_util = {w.name for w in (ROOT / "util" / "wheelhouse").glob("*.whl")}
    mine = {w.name for w in (ROOT / "compiler" / "wheelhouse").glob("*.whl")}
    for name in mine:   # util went first: what it carried is skipped, the rest uploaded
        line = (f"  skipped   {name} (already on the index)" if name in sent_with_util
                else f"  uploaded  {name}")
        assert line in lines, line
    assert len(lines) == len(mine) + 2
    assert lines[-1] == (f"uploaded {len(mine - sent_with_util)}, skipped "
                         f"{len(mine & sent_with_util)} already on the index")
    assert f"  uploaded  {util_wheel}" in said["util"].splitlines()
    status = occo_tool("index", "status", "--dir", str(index["dir"])).stdout
    assert "packages: 0 wheels" not in status

    for version in pythons.SUPPORTED:
        install_and_run(version, index["simple"], tmp_path / f"operator-{version}")

    again = upload("util", index["simple"], index["password"])
    assert again.returncode != 0
    util = discover(ROOT)["occo-util"]
    assert f"occo-util {util.version} is already on the index" in again.stderr
    assert (f'bump its version in util/occo/util/version.py (__version__ = "{util.version}")'
            in again.stderr)


def install_and_run(version: str, simple: str, target):
    """An operator on CPython ``version``: a fresh virtualenv, occo-api from the index alone,
    every occo package importable, ``occo --version`` and ``occo validate`` answering."""
    python_of = pythons.find(version)
    if python_of is None:
        pytest.fail(f"no Python {version} here (occo-tool pythons): the round trip must "
                    "install on every supported Python")
    made = subprocess.run([str(python_of), "-m", "venv", str(target)], capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    python = target / "bin" / "python"
    env = clean_env(PIP_CONFIG_FILE="/dev/null")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-cache-dir",
                              "--disable-pip-version-check", "--index-url", simple,
                              "occo-api"], text=True, capture_output=True, env=env)
    assert install.returncode == 0, f"Python {version}:\n{install.stdout}{install.stderr}"
    assert simple in install.stdout  # it really came from our index
    digits = version.replace(".", "")
    compiled = [line for line in install.stdout.splitlines() if f"-cp{digits}-" in line]
    assert compiled, f"Python {version}: no cp{digits} wheel came from the index"

    modules = [f"occo.{p.module}" for p in ORDER if p.dist != "occo-demo"]
    imported = subprocess.run([str(python), "-c", "import importlib, sys\n"
                               "for m in sys.argv[1:]: importlib.import_module(m)\n"
                               "import occo; print(getattr(occo, '__file__', None))", *modules],
                              text=True, capture_output=True, env=env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "None", "occo must stay a namespace package"
    occo = target / "bin" / "occo"
    version_out = subprocess.run([str(occo), "--version"], text=True, capture_output=True,
                                 env=env)
    assert version_out.returncode == 0, version_out.stderr
    api = discover(ROOT)["occo-api"].version
    assert version_out.stdout.splitlines()[0] == f"occo {api}"

    description = target / "description"
    (description / "nodes").mkdir(parents=True)
    (description / "infra.yaml").write_text(
        "infra_name: round-trip\nnodes:\n  - {name: db, type: db_node}\n"
        "  - {name: web, type: web_node, scaling: {min: 2, max: 4}}\n"
        "dependencies:\n  - [web, db]\n")
    (description / "nodes" / "node_definitions.yaml").write_text(
        "'node_def:db_node':\n  - resource: {type: dummy}\n"
        "'node_def:web_node':\n  - resource: {type: dummy}\n")
    validated = subprocess.run([str(occo), "validate", str(description / "infra.yaml")],
                               text=True, capture_output=True, env=env, cwd=target)
    assert validated.returncode == 0, f"Python {version}: {validated.stderr}"
    assert validated.stdout.startswith("OK ") and "3 instance" in validated.stdout, \
        validated.stdout


def test_wheelhouses_serve_every_supported_python_and_platform(wheelhouses):
    names = [w.name for w in (ROOT / "util" / "wheelhouse").glob("*.whl")]
    for version in pythons.SUPPORTED:
        digits = version.replace(".", "")
        for arch in ("x86_64", "aarch64"):
            assert any(n.lower().startswith("pyyaml-") and f"-cp{digits}-" in n and arch in n
                       for n in names), (version, arch, names)
    assert "util/wheelhouse:" in wheelhouses.stdout
    assert "CPython 3.13 manylinux aarch64:" in wheelhouses.stdout


def test_a_dependency_of_some_patch_releases_only_is_in_the_wheelhouse(wheelhouses):
    """A pin whose marker names patch releases (redis's ``async-timeout ;
    python_full_version < '3.11.3'``) is in the wheelhouse whatever this machine's patch
    release is: Debian 12's Python 3.11.2 needs it, and installs from the index alone."""
    from occotool.wheels import _patch_level, _pins, normalise
    api = next(p for p in ORDER if p.directory == "occo-api")
    patch_level = [name for name, line in _pins(api.path / "requirements.txt").items()
                   if _patch_level(line)]
    assert patch_level, "occo-api pins no dependency of some patch releases: pick another"
    have = {normalise(w.name.split("-")[0]) for w in api.wheelhouse.glob("*.whl")}
    assert set(patch_level) <= have, (patch_level, sorted(have))


def test_index_starts_again_at_the_url_it_had(tmp_path):
    directory = tmp_path / "index"

    def start(*extra):
        proc = occo_tool("index", "start", "--dir", str(directory), *extra)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split("running at ", 1)[1].split()[0]

    try:
        first = start()
        assert start() == first, "a running index is reported, not started again"
        occo_tool("index", "stop", "--dir", str(directory), check=True)
        status = occo_tool("index", "status", "--dir", str(directory)).stdout
        assert f"state: stopped (index start serves at {first} again)" in status
        assert start() == first
        occo_tool("index", "stop", "--dir", str(directory), check=True)

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            other = sock.getsockname()[1]
        moved = start("--port", str(other))
        assert moved == f"http://127.0.0.1:{other}/simple/" != first
        first_port = first.split(":")[2].split("/")[0]
        busy = occo_tool("index", "start", "--dir", str(directory), "--port", first_port)
        assert busy.returncode == 2, "moving a running index is refused"
        assert f"already running at {moved}: stop it first" in busy.stderr
        occo_tool("index", "stop", "--dir", str(directory), check=True)
        assert start() == moved, "the port given last is the one kept"
        occo_tool("index", "stop", "--dir", str(directory), check=True)

        with socket.socket() as taken:   # another program takes the port meanwhile
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            taken.bind(("127.0.0.1", other))
            taken.listen()
            proc = occo_tool("index", "start", "--dir", str(directory))
        assert proc.returncode == 2
        assert (f"port {other}, where the index in {directory} ran before ({moved}), is in "
                "use by another program: pass --port PORT, or --port 0 for a free one"
                in proc.stderr)
        fresh = start("--port", "0")
        assert fresh.startswith("http://127.0.0.1:")
    finally:
        occo_tool("index", "stop", "--dir", str(directory))


def test_upload_without_a_password_is_refused(wheelhouses):
    proc = upload("util", "http://127.0.0.1:9/simple/", None)
    assert proc.returncode == 2
    assert "no password for the index: set OCCO_INDEX_PASSWORD" in proc.stderr


def test_unreachable_index_is_reported(wheelhouses):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nobody listens
    proc = upload("util", f"http://127.0.0.1:{port}/simple/", "pw")
    assert proc.returncode == 1
    assert f"the index http://127.0.0.1:{port}/simple/ is unreachable" in proc.stderr
