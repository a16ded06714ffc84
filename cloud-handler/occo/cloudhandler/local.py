"""``local``: each node instance is a process group on this machine, on its own loopback
address, in its own working directory with its own log.

Resource keys (docs/cloudhandlers.rst):

- ``command``: a string run by ``/bin/sh -c``, or a list run directly (its program must
  exist: else :class:`~occo.cloudhandler.errors.ImageNotFound`); may be left out when
  the contextualisation (``docker`` type) gives one;
- ``env``: a mapping of extra environment variables;
- ``files``: relative path -> content (or ``{content: ..., mode: 0755}``), written into
  the working directory before the command starts;
- ``grace_period``: seconds between SIGTERM and SIGKILL when the node is dropped
  (default: the handler config's ``grace_period``, 10 s);
- ``name``, ``tags``.

The command runs with ``OCCO_NODE_IP`` (its address), ``OCCO_INSTANCE_ID``,
``OCCO_INFRA_ID``, ``OCCO_NODE_NAME``, ``OCCO_NODE_TYPE``, ``OCCO_WORKDIR`` and
``OCCO_PYTHON`` (this Python) besides a few inherited variables (``PATH``, ``HOME``,
``LANG``, ...: the handler config's ``inherit_env``) and the resource's ``env``.

Layout under the root (handler config ``root``, default
``$XDG_DATA_HOME/occo/local`` = ``~/.local/share/occo/local``)::

    <root>/addresses/<127.x.y.z>          which node holds each address
    <root>/<infra_id>/<instance_id>/
        node.json        who the node is: ids, tags, address, command (written first)
        launch.json      argv, environment and directory for the supervisor
        supervisor.json  the supervisor's pid, start time and boot id
        child.json       the command's pid and start time
        exit.json        how the command ended (exit code or signal)
        node.log         the command's output
        work/            the command's working directory, with the resource's files

Processes outlive the orchestrator (see :mod:`occo.cloudhandler.local_supervisor`); a new
orchestrator finds them again through the refs in its store, or ``list_nodes``, and
recognises them by pid *and* start time, so a reused pid is never taken for the node.
Linux only (it reads /proc).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from occo.util import CloudLimits, ConfigError, CredentialEntry, NodeSpec, OccoError, scrub

from ._localfiles import file_mode, files_problem
from ._loopback import LoopbackPool
from ._procs import group_members, is_alive
from .base import Clock, CloudHandler, NodeAddresses, NodeStatus, ResourceState
from .errors import CloudError, ImageNotFound
from .schemas import LOCAL

__all__ = ["LocalCloudHandler", "default_root", "ENV_NAMES"]

ENV_NAMES = ("OCCO_NODE_IP", "OCCO_INSTANCE_ID", "OCCO_INFRA_ID", "OCCO_NODE_NAME",
             "OCCO_NODE_TYPE", "OCCO_WORKDIR", "OCCO_PYTHON")
INHERIT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
               "TMPDIR", "VIRTUAL_ENV")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SUPERVISOR = Path(__file__).with_name("local_supervisor.py")
_LAUNCH_TIMEOUT = 30.0
_TAIL_BYTES = 2048
_TAIL_LINES = 15
_POLL = 0.02
_WATCH_STEP = 0.05   # how often a watch looks at the records of commands starting


def default_root() -> Path:
    """``$XDG_DATA_HOME/occo/local`` (``~/.local/share/occo/local``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                           ".local", "share")
    return Path(base) / "occo" / "local"


def _why(exc: OSError) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a part of the path is a file, not a directory"
    return exc.strerror or str(exc)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class _InstanceLock:
    """An exclusive flock on ``<workdir>/.lock``; its fd can be handed to the launcher."""

    def __init__(self, workdir: Path) -> None:
        self.fd = os.open(workdir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __enter__(self) -> _InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class LocalCloudHandler(CloudHandler):
    """Node instances as supervised local process groups on loopback addresses."""

    type_name = "local"
    # processes of this machine: starting one is cheap, a state call reads their files
    limits = CloudLimits(max_parallel=64, rate=0, batch_size=64, poll_interval=0.5,
                         first_poll=0.05)
    schema = LOCAL
    needs_credentials = False
    ref_keys = ("type", "name", "grace_period")
    watches = True   # a command's exit wakes a watch at once (a pidfd per running command)
    STATE_MAP = {"launching": ResourceState.PENDING, "starting": ResourceState.PENDING,
                 "running": ResourceState.RUNNING, "exiting": ResourceState.UNKNOWN,
                 "exited": ResourceState.FAILED, "vanished": ResourceState.FAILED,
                 "stopping": ResourceState.STOPPING, "dropped": ResourceState.TERMINATED,
                 "missing": ResourceState.MISSING}

    def __init__(self, resource: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 auth: CredentialEntry | None = None, clock: Clock | None = None) -> None:
        super().__init__(resource, config=config, auth=auth, clock=clock)
        self.root = Path(self.config.get("root") or default_root()).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(13, "not writable")
        except OSError as exc:
            setting = "clouds.local.root" if self.config.get("root") else \
                "the default clouds.local.root"
            raise ConfigError(f"{setting}: the local cloud's directory {self.root} cannot be "
                              f"made or written ({_why(exc)}); set clouds.local.root to a "
                              "writable directory") from None
        self.pool = LoopbackPool(self.root, mode=str(self.config.get("address_mode", "auto")))
        self.grace_period = float(self.config.get("grace_period", 10.0))
        self.inherit_env = tuple(self.config.get("inherit_env", INHERIT_ENV))
        self._records: dict[str, dict[str, Any]] = {}   # immutable records, by file path

    @classmethod
    def endpoint_key(cls, resource: Mapping[str, Any]) -> str:
        return "local"

    # ------------------------------------------------------------------ layout

    def workdir(self, infra_id: Any, instance_id: Any) -> Path:
        for what, value in (("infrastructure id", infra_id), ("instance id", instance_id)):
            if not isinstance(value, str) or not _SAFE_ID.match(value):
                raise CloudError(f"local: {what} {value!r} cannot name a directory")
        return self.root / infra_id / instance_id

    def _static(self, path: Path) -> dict[str, Any] | None:
        """A record that never changes once written (supervisor.json, child.json)."""
        key = str(path)
        found = self._records.get(key)
        if found is None:
            found = _read_json(path)
            if found is not None:
                self._records[key] = found
        return found

    # ---------------------------------------------------------------- creating

    def _create_node(self, spec: NodeSpec) -> dict[str, Any]:
        workdir = self.workdir(spec.infra_id, spec.instance_id)
        argv, display = self._command(spec)
        for attempt in range(3):   # a drop may remove the (then empty) infra directory
            try:
                workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
                lock = _InstanceLock(workdir)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        with lock:
            node = _read_json(workdir / "node.json")
            if node is not None and ((workdir / "supervisor.json").exists()
                                     or (workdir / "drop.json").exists()):
                return self._ref(node)
            if node is None:
                node = self._prepare(spec, workdir, argv, display)
            self._launch(workdir, lock.fd, spec)
            return self._ref(node)

    def _command(self, spec: NodeSpec) -> tuple[list[str], str]:
        command = spec.resource.get("command")
        context = spec.context or {}
        if command is None and context.get("type") == "docker":
            command = context.get("command")
        if isinstance(command, str) and command.strip():
            return ["/bin/sh", "-c", command], command
        if isinstance(command, list) and command and all(isinstance(c, str) for c in command):
            return list(command), " ".join(command)
        raise self.bad_resource(spec, "resource.command must be a non-empty string (run by "
                                      "/bin/sh -c) or list of strings")

    def _environment(self, spec: NodeSpec, workdir: Path, address: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in self.inherit_env if k in os.environ}
        context = spec.context or {}
        if context.get("type") == "docker":
            for item in context.get("env") or ():
                key, sep, value = str(item).partition("=")
                if not sep or not key:
                    raise self.bad_resource(spec, f"contextualisation env entry {item!r} is "
                                                  "not KEY=VALUE")
                env[key] = value
        for key, value in (spec.resource.get("env") or {}).items():
            if isinstance(value, (dict, list)) or value is None:
                raise self.bad_resource(spec, f"resource.env.{key} must be a string or a "
                                              "number")
            env[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        env.update({"OCCO_NODE_IP": address, "OCCO_INSTANCE_ID": spec.instance_id,
                    "OCCO_INFRA_ID": spec.infra_id, "OCCO_NODE_NAME": spec.node_name,
                    "OCCO_NODE_TYPE": spec.node_type, "OCCO_WORKDIR": str(workdir / "work"),
                    "OCCO_PYTHON": sys.executable})
        if context.get("type") == "cloudinit":
            env["OCCO_USER_DATA"] = str(workdir / "user-data")
        elif context.get("type") == "basic":
            env["OCCO_ATTRIBUTES"] = str(workdir / "attributes.json")
        return env

    def _write_files(self, spec: NodeSpec, work: Path) -> None:
        files = spec.resource.get("files") or {}
        problem = files_problem(files)   # rendered now: the entries validate could not see
        if problem:
            raise self.bad_resource(spec, f"resource.files: {problem}")
        for name, body in files.items():
            mode = None
            if isinstance(body, dict):
                mode, body = file_mode(body.get("mode")), body.get("content")
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
            if mode is not None:
                target.chmod(mode)

    def _prepare(self, spec: NodeSpec, workdir: Path, argv: list[str],
                 display: str) -> dict[str, Any]:
        """Write everything the node needs; allocate its address; return node.json.

        On a bad resource nothing is left behind: no directory, no address.
        """
        address: str | None = None
        try:
            work = workdir / "work"
            work.mkdir(exist_ok=True)
            self._write_files(spec, work)
            context = spec.context or {}
            if context.get("type") == "cloudinit":
                (workdir / "user-data").write_text(str(context.get("user_data") or ""))
            elif context.get("type") == "basic":
                (workdir / "attributes.json").write_text(
                    json.dumps(context.get("attributes") or {}))
            address = self.pool.allocate(workdir)
            env = self._environment(spec, workdir, address)
            path = env.get("PATH", os.defpath)
            if argv[0] != "/bin/sh" and shutil.which(argv[0], path=path) is None \
                    and not (work / argv[0]).is_file():
                raise ImageNotFound(f"local: the command {argv[0]!r} was not found (PATH "
                                    f"{path})")
            _write_json(workdir / "launch.json", {"argv": argv, "env": env, "cwd": str(work),
                                                  "display": display})
        except OccoError:
            if address is not None:
                self.pool.release(address, workdir)
            self._forget(workdir)
            raise
        node = {"instance_id": spec.instance_id, "infra_id": spec.infra_id,
                "node_name": spec.node_name, "node_type": spec.node_type,
                "address": address, "command": display, "created_at": self.clock(),
                "resource": {k: spec.resource[k] for k in self.ref_keys or ()
                             if k in spec.resource},
                "tags": {**{str(k): str(v) for k, v in (spec.resource.get("tags") or {}).items()},
                         **spec.occo_tags()}}
        _write_json(workdir / "node.json", node)
        return node

    def _launch(self, workdir: Path, lock_fd: int, spec: NodeSpec) -> None:
        """Start the supervisor; it holds the instance lock until it has recorded itself."""
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(_SUPERVISOR), str(workdir),
                                 str(lock_fd)], pass_fds=(lock_fd,), start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            _out, err = proc.communicate(timeout=_LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise CloudError(f"local: the supervisor of node {spec.node_name!r} did not start "
                             f"within {_LAUNCH_TIMEOUT:g} s") from None
        if proc.returncode != 0:
            raise CloudError(f"local: the supervisor of node {spec.node_name!r} failed to "
                             f"start: {err.decode(errors='replace').strip()[-500:]}")

    def _ref(self, node: Mapping[str, Any]) -> dict[str, Any]:
        workdir = self.workdir(node["infra_id"], node["instance_id"])
        sup = self._static(workdir / "supervisor.json") or {}
        return {"instance_id": node["instance_id"], "infra_id": node["infra_id"],
                "node_name": node["node_name"], "type": self.type_name,
                "endpoint": self.endpoint,
                "resource": dict(node.get("resource") or {"type": self.type_name}),
                "resource_id": str(workdir), "workdir": str(workdir),
                "address": node.get("address"), "pid": sup.get("pid"),
                "start_time": sup.get("start_time")}

    # ------------------------------------------------------------------- states

    def status_of(self, workdir: Path) -> NodeStatus:
        """The node's state from its records and /proc."""
        if not (workdir / "node.json").exists():
            return self._status("missing", "no such local node")
        sup = self._static(workdir / "supervisor.json")
        if (workdir / "drop.json").exists():
            if sup and group_members(sup["pid"], sup.get("start_time"), sup.get("boot_id")):
                return self._status("stopping", "being dropped")
            return self._status("dropped")
        ended = _read_json(workdir / "exit.json")
        if ended is not None:
            return self._exited(workdir, ended)
        if sup is None:
            return self._status("launching", "the supervisor is starting")
        boot = sup.get("boot_id")
        child = self._static(workdir / "child.json")
        if is_alive(sup["pid"], sup.get("start_time"), boot):
            if child is None:
                return self._status("starting", "the command is starting")
            if is_alive(child["pid"], child.get("start_time"), boot):
                return self._status("running")
            ended = _read_json(workdir / "exit.json")
            if ended is not None:
                return self._exited(workdir, ended)
            return self._status("exiting", "the command ended; its exit code is being "
                                           "recorded")
        if child is not None and is_alive(child["pid"], child.get("start_time"), boot):
            return self._status("running", "its supervisor is gone: the exit code will not "
                                           "be recorded")
        ended = _read_json(workdir / "exit.json")
        if ended is not None:
            return self._exited(workdir, ended)
        return self._status("vanished", "the node's processes are gone (killed together with "
                                        "its supervisor, or the machine restarted); exit code "
                                        f"unknown; log tail:\n{self.log_tail(workdir)}")

    def _status(self, raw: str, detail: str | None = None, *,
                exit_code: int | None = None) -> NodeStatus:
        return NodeStatus(self.map_state(raw), detail, raw=raw, exit_code=exit_code)

    def _exited(self, workdir: Path, ended: Mapping[str, Any]) -> NodeStatus:
        code = ended.get("exit_code")
        sig = ended.get("signal")
        if sig:
            try:
                how = f"killed by {signal.Signals(int(sig)).name}"
            except ValueError:
                how = f"killed by signal {sig}"
        elif ended.get("error"):
            how = f"could not start ({ended['error']}), exit code {code}"
        else:
            how = f"exited with code {code}"
        return self._status("exited", f"the command {how}; log tail:\n{self.log_tail(workdir)}",
                            exit_code=int(code) if code is not None else None)

    @staticmethod
    def log_tail(workdir: Path) -> str:
        """The last lines of the node's log (secrets scrubbed)."""
        try:
            with open(workdir / "node.log", "rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - _TAIL_BYTES))
                data = log.read()
        except OSError:
            return "(no log)"
        lines = data.decode(errors="replace").splitlines()[-_TAIL_LINES:]
        return scrub("\n".join(lines))

    def _get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        out: dict[str, NodeStatus] = {}
        for ref in refs:
            out[str(ref["instance_id"])] = self.status_of(
                self.workdir(ref.get("infra_id"), ref.get("instance_id")))
        return out

    def _watch_states(self, refs: Sequence[Mapping[str, Any]], known: Mapping[str, str],
                      timeout: float) -> dict[str, NodeStatus]:
        """A running command's exit wakes the watch at once (its pidfd becomes readable);
        a command starting or a drop is seen in the node's records, read every 50 ms."""
        deadline = time.monotonic() + timeout
        workdirs = {str(r["instance_id"]): self.workdir(r.get("infra_id"), r.get("instance_id"))
                    for r in refs}
        poller = select.poll()
        pidfds: dict[str, int] = {}
        try:
            while True:
                states = {iid: self.status_of(w) for iid, w in workdirs.items()}
                changed = self.changed(states, known)
                left = deadline - time.monotonic()
                if changed or left <= 0 or self.closing.is_set():
                    return changed
                for iid, workdir in workdirs.items():
                    if iid not in pidfds and states[iid].state == ResourceState.RUNNING:
                        fd = self._pidfd(workdir)
                        if fd is not None:
                            pidfds[iid] = fd
                            poller.register(fd, select.POLLIN)
                for fd, _ in poller.poll(min(left, _WATCH_STEP) * 1000):
                    poller.unregister(fd)   # it has ended: its records tell the rest
        finally:
            for fd in pidfds.values():
                os.close(fd)

    def _pidfd(self, workdir: Path) -> int | None:
        """A pidfd of the node's running command (None if it is not running or the system
        has no pidfds)."""
        child = self._static(workdir / "child.json")
        if child is None or not hasattr(os, "pidfd_open"):
            return None
        try:
            fd = os.pidfd_open(int(child["pid"]))
        except OSError:
            return None
        if not is_alive(child["pid"], child.get("start_time")):   # a reused pid
            os.close(fd)
            return None
        return fd

    def _get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        out: dict[str, NodeAddresses] = {}
        for ref in refs:
            node = _read_json(self.workdir(ref.get("infra_id"), ref.get("instance_id"))
                              / "node.json")
            if node and node.get("address"):
                address = (node["address"],)
                out[str(ref["instance_id"])] = NodeAddresses(address, address)
        return out

    def _list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        base = self.root / infra_id
        self.workdir(infra_id, "x")   # validates infra_id
        out: list[dict[str, Any]] = []
        if not base.is_dir():
            return out
        for entry in sorted(base.iterdir()):
            node = _read_json(entry / "node.json")
            if node is None or (entry / "drop.json").exists():
                continue
            out.append({**self._ref(node), "tags": dict(node.get("tags") or {})})
        return out

    # ----------------------------------------------------------------- dropping

    def _drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        """SIGTERM every node's group, wait out the longest grace period, SIGKILL what is
        left, then free each node's address and remove its directory."""
        results: list[OccoError | None] = [None] * len(refs)
        dropping: list[tuple[int, Path, dict[str, Any] | None, float]] = []
        for i, ref in enumerate(refs):
            try:
                workdir = self.workdir(ref.get("infra_id"), ref.get("instance_id"))
            except OccoError as exc:
                results[i] = exc
                continue
            if not workdir.is_dir():
                continue   # never was, or already dropped: success
            with _InstanceLock(workdir):
                _write_json(workdir / "drop.json", {"requested_at": self.clock()})
            sup = self._static(workdir / "supervisor.json")
            grace = (ref.get("resource") or {}).get("grace_period")
            grace = self.grace_period if grace is None else float(grace)
            self._signal(sup, signal.SIGTERM)
            dropping.append((i, workdir, sup, grace))
        start = time.monotonic()
        pending = list(dropping)
        killed: set[int] = set()
        while pending:
            now = time.monotonic()
            still = []
            for item in pending:
                i, workdir, sup, grace = item
                if not self._members(sup):
                    self._remove(workdir)
                    continue
                if now - start >= grace and i not in killed:
                    self._signal(sup, signal.SIGKILL)
                    killed.add(i)
                if i in killed and now - start >= grace + _LAUNCH_TIMEOUT:
                    results[i] = CloudError(f"local: the processes of {workdir} did not end "
                                            "after SIGKILL")
                    continue
                still.append(item)
            pending = still
            if pending:
                time.sleep(_POLL)
        return results

    @staticmethod
    def _members(sup: Mapping[str, Any] | None) -> list[int]:
        if not sup:
            return []
        return group_members(int(sup["pid"]), sup.get("start_time"), sup.get("boot_id"))

    def _signal(self, sup: Mapping[str, Any] | None, sig: signal.Signals) -> None:
        if self._members(sup):
            try:
                os.killpg(int(sup["pid"]), sig)   # type: ignore[index]
            except ProcessLookupError:
                pass

    def _remove(self, workdir: Path) -> None:
        node = _read_json(workdir / "node.json") or {}
        self.pool.release(node.get("address"), workdir)
        for name in ("supervisor.json", "child.json"):
            self._records.pop(str(workdir / name), None)
        self._forget(workdir)

    @staticmethod
    def _forget(workdir: Path) -> None:
        shutil.rmtree(workdir, ignore_errors=True)
        try:
            workdir.parent.rmdir()   # the infrastructure's directory, once it is empty
        except OSError:
            pass
