"""The local backend: the contract suite, and processes as nodes (addresses, environment,
files, logs, exit codes, supervisors, restarts of the orchestrator, reused pids)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import drop_everything

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler._loopback import LoopbackPool
from occo.cloudhandler._procs import boot_id, is_alive, proc_info
from occo.cloudhandler.contract import CloudHandlerContract, make_spec
from occo.cloudhandler.local import ENV_NAMES, LocalCloudHandler, default_root
from occo.util import InputError
from occo.util.testing import wait_until

TIMEOUT = 30.0
LONG = "exec sleep 300"


class TestLocalContract(CloudHandlerContract):
    """Local process groups, judged by the contract suite."""

    timeout = TIMEOUT

    @pytest.fixture
    def service(self, local):
        return local

    @pytest.fixture
    def resource(self):
        return {"type": "local", "command": LONG}

    @pytest.fixture
    def bad_image_resource(self):
        return {"type": "local", "command": ["occo-no-such-program", "--serve"]}


def spec(command, **kw) -> dict:
    resource = {"type": "local", "command": command, **kw.pop("resource", {})}
    return make_spec(resource, infra_id=kw.pop("infra_id", "infra-local"), **kw)


def wait_state(service, ref, wanted: set[str]) -> dict:
    return wait_until(lambda: (s := service.get_states([ref])[ref["instance_id"]])["state"]
                      in wanted and s, timeout=TIMEOUT, what=f"state in {wanted}")


def test_a_command_that_exits_at_once_is_failed_with_exit_code_and_log_tail(local):
    ref = local.create_node(spec("echo starting up; echo 'no config file' >&2; exit 3",
                                 node="broken"))
    status = wait_state(local, ref, {"failed"})
    assert status["exit_code"] == 3 and status["raw"] == "exited"
    assert status["detail"].startswith("the command exited with code 3; log tail:\n")
    assert "starting up" in status["detail"] and "no config file" in status["detail"]
    assert local.drop_node(ref) == {}


def test_a_missing_program_in_a_shell_command_fails_with_127(local):
    ref = local.create_node(spec("occo-no-such-program-either"))
    status = wait_state(local, ref, {"failed"})
    assert status["exit_code"] == 127 and "not found" in status["detail"]


def test_killing_the_command_makes_the_node_failed(local):
    ref = local.create_node(spec(LONG))
    wait_state(local, ref, {"running"})
    child = json.loads((Path(ref["workdir"]) / "child.json").read_text())
    os.kill(child["pid"], signal.SIGTERM)   # what a demo does with `kill`
    status = wait_state(local, ref, {"failed"})
    assert status["exit_code"] == -signal.SIGTERM
    assert status["detail"].startswith("the command killed by SIGTERM; log tail:")


def test_a_killed_supervisor_leaves_a_running_node_then_a_vanished_one(local):
    ref = local.create_node(spec(LONG))
    wait_state(local, ref, {"running"})
    os.kill(ref["pid"], signal.SIGKILL)   # the supervisor (the process group's leader)
    wait_until(lambda: not is_alive(ref["pid"], ref["start_time"]), timeout=TIMEOUT,
               what="the supervisor to die")
    status = local.get_states([ref])[ref["instance_id"]]
    assert status["state"] == "running" and "supervisor is gone" in status["detail"]
    child = json.loads((Path(ref["workdir"]) / "child.json").read_text())
    os.kill(child["pid"], signal.SIGKILL)
    status = wait_state(local, ref, {"failed"})
    assert status["raw"] == "vanished" and "exit code unknown" in status["detail"]


def test_environment_files_and_working_directory(local):
    command = ("env > env.txt; cat conf/app.ini > copy.txt; ls -l run.sh > mode.txt; "
               "pwd > pwd.txt; exec sleep 300")
    ref = local.create_node(spec(command, node="app", resource={
        "env": {"GREETING": "hello world", "PORT": 8080, "DEBUG": True},
        "files": {"conf/app.ini": "[app]\nport = 8080\n",
                  "run.sh": {"content": "#!/bin/sh\necho hi\n", "mode": "0755"}}}))
    wait_state(local, ref, {"running"})
    work = Path(ref["workdir"]) / "work"
    wait_until(lambda: (work / "pwd.txt").exists() and (work / "pwd.txt").read_text(),
               timeout=TIMEOUT, what="the command's output files")
    env = dict(line.split("=", 1) for line in (work / "env.txt").read_text().splitlines()
               if "=" in line)
    assert env["GREETING"] == "hello world" and env["PORT"] == "8080" and env["DEBUG"] == "true"
    assert env["OCCO_NODE_IP"] == ref["address"] and env["OCCO_INSTANCE_ID"] == ref["instance_id"]
    assert env["OCCO_INFRA_ID"] == "infra-local" and env["OCCO_NODE_NAME"] == "app"
    assert env["OCCO_NODE_TYPE"] == "app_node" and env["OCCO_WORKDIR"] == str(work)
    assert env["OCCO_PYTHON"] == sys.executable
    assert set(ENV_NAMES) <= set(env)
    assert (work / "copy.txt").read_text() == "[app]\nport = 8080\n"
    assert (work / "mode.txt").read_text().startswith("-rwxr-xr-x")
    assert (work / "pwd.txt").read_text().strip() == str(work)


def test_the_orchestrators_secrets_are_not_inherited(local, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak-me")
    ref = local.create_node(spec("env > env.txt; exec sleep 300"))
    work = Path(ref["workdir"]) / "work"
    wait_until(lambda: (work / "env.txt").exists() and (work / "env.txt").read_text(),
               timeout=TIMEOUT, what="env.txt")
    assert "do-not-leak-me" not in (work / "env.txt").read_text()


def test_contextualisation_reaches_the_node(local):
    cloud = local.create_node(make_spec({"type": "local", "command": LONG}, infra_id="ctx",
                                        context={"type": "cloudinit",
                                                 "user_data": "#cloud-config\nx: 1\n"}))
    basic = local.create_node(make_spec({"type": "local", "command": LONG}, infra_id="ctx",
                                        context={"type": "basic", "attributes": {"a": [1]}}))
    docker = local.create_node(make_spec({"type": "local"}, infra_id="ctx", context={
        "type": "docker", "env": ["ROLE=worker"], "command": "echo role=$ROLE; exit 5"}))
    assert (Path(cloud["workdir"]) / "user-data").read_text() == "#cloud-config\nx: 1\n"
    assert json.loads((Path(basic["workdir"]) / "attributes.json").read_text()) == {"a": [1]}
    status = wait_state(local, docker, {"failed"})
    assert status["exit_code"] == 5 and "role=worker" in status["detail"]


def test_each_node_listens_on_its_own_loopback_address(local):
    server = '"$OCCO_PYTHON" -m http.server --bind "$OCCO_NODE_IP" 18765'
    refs = [local.create_node(spec(server, node=f"web{i}")) for i in range(2)]
    addresses = {r["address"] for r in refs}
    assert len(addresses) == 2 and all(a.startswith("127.") for a in addresses)

    def answers(address: str) -> bool:
        try:
            with socket.create_connection((address, 18765), timeout=1) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return conn.recv(12).startswith(b"HTTP/1.0 200")
        except OSError:
            return False

    for address in addresses:   # the same port on both: each has its own address
        wait_until(lambda a=address: answers(a), timeout=TIMEOUT, what=f"{address}:18765")
    assert local.get_addresses(refs)[refs[0]["instance_id"]]["checkable"] is True


def test_addresses_are_unique_across_threads_and_processes(root, local):
    results: list[dict] = []

    def create(i: int) -> None:
        results.append(local.create_node(spec(LONG, node=f"t{i}")))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    script = textwrap.dedent("""
        import json, sys
        from occo.cloudhandler import CloudHandlerService
        s = CloudHandlerService({"local": {"root": sys.argv[1]}})
        from occo.cloudhandler.contract import make_spec
        refs = [s.create_node(make_spec({"type": "local", "command": "exec sleep 300"},
                                        infra_id="infra-local", node=f"p{i}")) for i in range(4)]
        print(json.dumps([r["address"] for r in refs]))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    others = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    for t in threads:
        t.join(timeout=120)
    every = [r["address"] for r in results] + others[0] + others[1]
    assert len(every) == 14 and len(set(every)) == 14


def test_processes_outlive_the_orchestrator_and_are_found_again(root):
    script = textwrap.dedent("""
        import json, sys
        from occo.cloudhandler import CloudHandlerService
        from occo.cloudhandler.contract import make_spec
        s = CloudHandlerService({"local": {"root": sys.argv[1]}})
        print(json.dumps(s.create_node(make_spec({"type": "local", "command": "exec sleep 300"},
                                                 infra_id="survivors", node="db"))))
    """)
    out = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True,
                         text=True, check=True, timeout=120)
    stored = json.loads(out.stdout)   # what the info broker would have kept
    fresh = CloudHandlerService({"local": {"root": str(root)}})
    try:
        assert wait_state(fresh, stored, {"running"})["state"] == "running"
        [listed] = fresh.list_nodes("survivors", [{"type": "local"}])
        assert listed["instance_id"] == stored["instance_id"]
        assert listed["pid"] == stored["pid"] and listed["start_time"] == stored["start_time"]
        assert fresh.get_addresses([stored])[stored["instance_id"]]["addresses"] == \
            [stored["address"]]
        assert fresh.drop_node(stored) == {}
        assert not is_alive(stored["pid"], stored["start_time"])
        assert fresh.list_nodes("survivors", [{"type": "local"}]) == []
    finally:
        drop_everything(fresh, root)


def test_a_reused_pid_is_not_mistaken_for_the_node(local, root):
    ref = local.create_node(spec(LONG))
    wait_state(local, ref, {"running"})
    workdir = Path(ref["workdir"])
    sup = json.loads((workdir / "supervisor.json").read_text())
    child = json.loads((workdir / "child.json").read_text())
    os.killpg(sup["pid"], signal.SIGKILL)
    wait_until(lambda: not is_alive(child["pid"], child["start_time"]), timeout=TIMEOUT,
               what="the node's processes to die")
    # A stranger now holds the pid the records name (the kernel reuses pids): here an
    # unrelated process, whose own group the records' pid is made to point at.
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        for name, old in (("supervisor.json", sup), ("child.json", child)):
            (workdir / name).write_text(json.dumps({**old, "pid": stranger.pid}))
        fresh = CloudHandlerService({"local": {"root": str(root)}})
        status = fresh.get_states([ref])[ref["instance_id"]]
        assert status["state"] == "failed" and status["raw"] == "vanished"
        assert fresh.drop_node(ref) == {}
        info = proc_info(stranger.pid)
        assert info is not None and info.running   # the stranger was left alone
    finally:
        stranger.kill()
        stranger.wait()


def test_drop_escalates_to_sigkill_after_the_grace_period(local):
    stubborn = "trap '' TERM; sleep 300"
    ref = local.create_node(spec(stubborn, resource={"grace_period": 0.2}))
    wait_state(local, ref, {"running"})
    child = json.loads((Path(ref["workdir"]) / "child.json").read_text())
    assert local.drop_node(ref) == {}
    assert not is_alive(child["pid"], child["start_time"])
    assert not is_alive(ref["pid"], ref["start_time"])
    assert not Path(ref["workdir"]).exists()
    assert local.get_states([ref])[ref["instance_id"]]["state"] == "missing"


def test_no_zombies_are_left_in_the_orchestrator(local):
    refs = [local.create_node(spec("exit 0", node=f"z{i}")) for i in range(3)]
    for ref in refs:
        wait_state(local, ref, {"failed"})
    local.drop_nodes(refs)
    me = os.getpid()
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            fields = text[text.rfind(")") + 2:].split()
            if int(fields[1]) == me and fields[0] == "Z":
                zombies.append(entry.name)
    assert zombies == []


F = "node 'web': resource.files: "   # how a bad files entry is named


@pytest.mark.parametrize("resource, message", [
    ({"files": {"../escape.txt": "x"}}, F + "file '../escape.txt': a file must be a "
                                        "relative path inside the working directory"),
    ({"files": {"/etc/evil": "x"}}, F + "file '/etc/evil': a file must be a relative "
                                    "path inside the working directory"),
    ({"files": {"a/../../b": "x"}}, F + "file 'a/../../b': a file must be a relative "
                                    "path inside the working directory"),
    ({"files": {".": "x"}}, F + "file '.': give the path of a file, not a directory"),
    ({"files": {"": "x"}}, F + "file '': give the path of a file, not a directory"),
    ({"files": {"conf/": "x"}}, F + "file 'conf/': give the path of a file, not a "
                                "directory"),
    ({"files": {"a\0b": "x"}},
     F + "file 'a\\x00b': a name cannot hold a NUL character"),
    ({"files": {"x" * 300: "x"}}, F + "file " + repr("x" * 40) + "...: a path is at most "
                                  "4096 bytes and each name in it at most 255"),
    ({"files": {"a.sh": {"content": "x", "mode": "rwx"}}},
     F + "file 'a.sh': mode must be an octal mode from 0 to 7777 such as 0644 (or its "
     "number), got 'rwx'"),
    ({"files": {"a.sh": {"content": "x", "mode": 0o17777}}},
     F + "file 'a.sh': mode must be an octal mode from 0 to 7777 such as 0644 (or its "
     "number), got 8191"),
    ({"files": {"a.sh": {"content": "x", "mode": "0999"}}},
     F + "file 'a.sh': mode must be an octal mode from 0 to 7777 such as 0644 (or its "
     "number), got '0999'"),
    ({"files": {"a.sh": {"content": "x", "owner": "root"}}},
     F + "file 'a.sh': unknown key 'owner'; an entry takes content and mode"),
    ({"files": {"a.sh": 42}}, F + "file 'a.sh' must be text (or {content: text, mode: "
                              "0644})"),
    ({"env": {"A": {"nested": 1}}}, "node 'web': resource.env.A must be a string or a number"),
])
def test_bad_local_resources_are_input_errors_and_create_nothing(local, root, resource,
                                                                 message):
    with pytest.raises(InputError) as info:
        local.create_node(spec(LONG, resource=resource))
    assert str(info.value) == message
    assert local.list_nodes("infra-local", [{"type": "local"}]) == []
    assert not (root / "infra-local").exists()


def test_a_missing_command_is_an_input_error(local):
    with pytest.raises(InputError, match=r"^node 'web': resource.command must be a non-empty "
                                         r"string \(run by /bin/sh -c\) or list of strings$"):
        local.create_node(make_spec({"type": "local"}, infra_id="x"))


def test_an_unknown_program_names_it(local):
    with pytest.raises(Exception) as info:
        local.create_node(spec(["occo-no-such-program"], node="db"))
    assert type(info.value).__name__ == "ImageNotFound"
    assert str(info.value).startswith("node 'db' (")
    assert "local: the command 'occo-no-such-program' was not found" in str(info.value)


def test_loopback_pool_modes(tmp_path, monkeypatch, caplog):
    pool = LoopbackPool(tmp_path, mode="single")
    assert pool.allocate(tmp_path / "a") == pool.allocate(tmp_path / "b") == "127.0.0.1"
    ranged = LoopbackPool(tmp_path / "r", mode="range")
    first = ranged.allocate(tmp_path / "a")
    (tmp_path / "a").mkdir()
    second = ranged.allocate(tmp_path / "b")
    assert first != second and first.endswith(".0.1")
    ranged.release(first, tmp_path / "a")
    assert not (tmp_path / "r" / "addresses" / first).exists()
    # Where the OS offers only 127.0.0.1, "auto" falls back to it, and says so.
    monkeypatch.setattr("occo.cloudhandler._loopback.range_available", lambda: False)
    assert LoopbackPool(tmp_path / "s").allocate(tmp_path / "c") == "127.0.0.1"
    assert "offers only 127.0.0.1" in caplog.text


def test_a_marker_whose_node_directory_is_gone_is_reclaimed(tmp_path):
    pool = LoopbackPool(tmp_path, mode="range")
    gone = pool.allocate(tmp_path / "removed-by-hand")   # its directory never existed
    (tmp_path / "addresses" / ".next").write_text(str(
        int.from_bytes(socket.inet_aton(gone), "big")))
    assert pool.allocate(tmp_path / "new") == gone


def test_default_root_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_root() == tmp_path / "occo" / "local"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_root() == Path.home() / ".local" / "share" / "occo" / "local"


def test_unsafe_ids_never_name_directories(local):
    handler = local.handler_for({"type": "local", "command": "x"})
    assert isinstance(handler, LocalCloudHandler)
    [result] = local.drop_nodes([{"instance_id": "../../etc", "infra_id": "x",
                                  "resource": {"type": "local"}}])
    assert "cannot name a directory" in result["error"]["text"]
    assert boot_id()
