"""A local node's `files` that the backend could not write are refused by validate (and
so by plan and build, before anything is stored), located at the entry."""

from __future__ import annotations

import pytest
from e2e import Setup, local_definition, write_description


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


@pytest.mark.parametrize("files, said", [
    ({"../../etc/cron.d/x": "boom"}, "a file must be a relative path inside the working"),
    ({".": "x"}, "give the path of a file, not a directory"),
    ({"run.sh": {"content": "x", "mode": 99999}}, "mode must be an octal mode from 0 to 7777"),
    ({"run.sh": {"content": "x", "mode": "u+x"}}, "mode must be an octal mode"),
])
@pytest.mark.parametrize("command", ["validate", "build"])
def test_bad_files_entries_are_located_errors_before_anything_is_stored(setup, tmp_path,
                                                                        files, said, command):
    node = local_definition("exec sleep 30", resource={"files": files})
    infra = write_description(tmp_path / "d", "files", {"a": {"type": "t"}}, [], {"t": [node]})
    proc = setup.cli(command, str(infra))
    assert proc.returncode == 2, proc.stderr
    assert "node_definitions.yaml:" in proc.stderr and "resource.files: file " in proc.stderr
    assert said in proc.stderr
    assert "no infrastructures" in setup.cli("list").stdout
