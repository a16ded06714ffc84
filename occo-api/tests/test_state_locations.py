"""Where the state is, as the CLI is told (--state, store.path): a path that cannot be a
state file and a mistyped store URL are exit 2 naming the path or the accepted forms, with
nothing created (no directory, no file with a strange name)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def occo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return subprocess.run([str(Path(sys.executable).parent / "occo"), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("url, said", [
    ("redis:/127.0.0.1:6379", "redis: must be followed by two slashes"),
    ("Redis:/x", "must be followed by two slashes"),
    ("mysql://root@127.0.0.1/occo", "unknown scheme mysql://"),
    ("memory:", "memory: must be followed by two slashes"),
    ("postgresql:/db", "must be followed by two slashes"),
    ("sqlite:relative.db", "sqlite"),
])
def test_a_mistyped_store_url_is_exit_2_naming_the_forms_and_makes_nothing(tmp_path, url,
                                                                            said):
    before = listing(tmp_path)
    proc = occo(tmp_path, "--state", url, "list")
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr and "(accepted: memory://;" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert listing(tmp_path) == before


def test_a_state_path_under_a_file_is_exit_2_naming_it(tmp_path):
    (tmp_path / "plain").write_text("a file, not a directory")
    proc = occo(tmp_path, "--state", str(tmp_path / "plain" / "state.sqlite"), "list")
    assert proc.returncode == 2
    assert f"store.path {tmp_path / 'plain' / 'state.sqlite'}: the state file's directory " \
           "cannot be made (a part of its path is a file, not a directory)" in proc.stderr


def test_a_state_path_that_is_a_directory_is_exit_2(tmp_path):
    (tmp_path / "somewhere").mkdir()
    config = tmp_path / "occo.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(tmp_path / "somewhere")}}))
    proc = occo(tmp_path, "--config", str(config), "list")
    assert proc.returncode == 2
    assert "the state file is a directory" in proc.stderr


def test_a_local_cloud_root_that_cannot_be_made_stops_the_build_before_it_is_stored(
        tmp_path):
    (tmp_path / "plain").write_text("x")
    config = tmp_path / "occo.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "state.sqlite")},
        "clouds": {"local": {"root": str(tmp_path / "plain" / "nodes")}}}))
    (tmp_path / "d" / "nodes").mkdir(parents=True)
    (tmp_path / "d" / "infra.yaml").write_text(
        "infra_name: p\nnodes:\n  - {name: a, type: t}\n")
    (tmp_path / "d" / "nodes" / "node_definitions.yaml").write_text(
        "'node_def:t':\n  - resource: {type: local, command: 'exec sleep 60'}\n")
    proc = occo(tmp_path, "--config", str(config), "build", str(tmp_path / "d" / "infra.yaml"))
    assert proc.returncode == 2, proc.stderr
    assert f"clouds.local.root: the local cloud's directory {tmp_path / 'plain' / 'nodes'} " \
           "cannot be made or written (a part of the path is a file" in proc.stderr
    listed = occo(tmp_path, "--config", str(config), "list")
    assert "no infrastructures" in listed.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("make, said", [
    (os.mkfifo, "not a regular file: it is a FIFO (named pipe)"),
    (os.mkdir, "not a regular file: it is a directory"),
], ids=["fifo", "directory"])
def test_validate_of_what_is_no_file_is_exit_2_at_once(tmp_path, make, said):
    make(tmp_path / "infra.yaml")
    proc = occo(tmp_path, "validate", str(tmp_path / "infra.yaml"))
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr


def test_an_auth_file_that_is_a_directory_says_so(tmp_path):
    (tmp_path / "auth").mkdir()
    proc = occo(tmp_path, "--state", "memory://", "--auth-data", str(tmp_path / "auth"), "list")
    assert proc.returncode == 2
    assert "not a regular file: it is a directory" in proc.stderr
