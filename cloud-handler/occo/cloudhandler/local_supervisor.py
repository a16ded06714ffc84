"""The supervisor of one ``local`` node: runs its command and records how it ended.

Started by the local cloud handler as ``python -I -S local_supervisor.py WORKDIR LOCKFD``
(standard library only, so it starts fast and does not depend on the orchestrator's
environment). It daemonises with a double fork, so it is never the orchestrator's child
(no zombies there) and outlives it:

1. the launcher (the process the handler started) forks the supervisor and waits until
   the supervisor says it is ready, then prints the supervisor's pid and exits;
2. the supervisor starts a new session (its pid is the node's process group id), writes
   ``supervisor.json`` (pid, start time, boot id), closes its copy of the instance lock
   the handler passed down (so a concurrent create waits until this record exists), and
   tells the launcher it is ready;
3. it starts the command from ``launch.json`` in the node's group, with its output
   appended to ``node.log``, writes ``child.json`` (pid, start time), waits for it, and
   writes ``exit.json`` (exit code, or the signal that killed it).

On a drop the handler signals the whole process group. The supervisor outlives a SIGTERM
(it waits for its command and records the exit); SIGKILL ends it with the rest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _start_time(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rfind(")") + 2:].split()[19])


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _note(log, text: str) -> None:
    log.write(f"[occo supervisor {time.strftime('%Y-%m-%dT%H:%M:%S')}] {text}\n".encode())
    log.flush()


def supervise(workdir: Path, lock_fd: int, ready_fd: int) -> int:
    """The supervisor's life: record itself, run the command, record its end."""
    os.setsid()
    me = os.getpid()
    _write_json(workdir / "supervisor.json",
                {"pid": me, "start_time": _start_time(me), "boot_id": _boot_id()})
    os.close(lock_fd)
    os.write(ready_fd, b"ok\n")
    os.close(ready_fd)
    launch = json.loads((workdir / "launch.json").read_text())
    # A handler (not SIG_IGN, which exec would keep) so the command still gets SIGTERM's
    # default action while the supervisor stays to record the exit.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGHUP, lambda *_: None)
    with open(workdir / "node.log", "ab", buffering=0) as log:
        _note(log, f"starting: {launch['display']}")
        try:
            child = subprocess.Popen(launch["argv"], cwd=launch["cwd"], env=launch["env"],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, close_fds=True)
        except OSError as exc:
            _note(log, f"cannot start the command: {exc.strerror or exc}")
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            _write_json(workdir / "exit.json", {"exit_code": code, "signal": None,
                                                "error": exc.strerror or str(exc),
                                                "finished_at": time.time()})
            return 0
        _write_json(workdir / "child.json", {"pid": child.pid,
                                             "start_time": _start_time(child.pid)})
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover - Python retries on EINTR
                continue
        sig = -code if code < 0 else None
        how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {code}"
        _note(log, f"the command ended: {how}")
        _write_json(workdir / "exit.json", {"exit_code": code, "signal": sig,
                                            "finished_at": time.time()})
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: local_supervisor.py WORKDIR LOCKFD", file=sys.stderr)
        return 2
    workdir, lock_fd = Path(argv[1]), int(argv[2])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the supervisor
        os.close(read_end)
        try:
            for fd in (0, 1, 2):   # detach from the launcher's pipes
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, fd)
                os.close(null)
            code = supervise(workdir, lock_fd, write_end)
        except BaseException as exc:  # record why, then leave without Python's cleanup
            try:
                with open(workdir / "node.log", "ab") as log:
                    _note(log, f"supervisor failed: {type(exc).__name__}: {exc}")
            finally:
                os._exit(1)
        os._exit(code)
    os.close(write_end)
    os.close(lock_fd)
    answer = b""
    while True:
        chunk = os.read(read_end, 16)
        if not chunk:
            break
        answer += chunk
    if answer.strip() != b"ok":
        print(f"the supervisor (pid {pid}) did not start; see {workdir / 'node.log'}",
              file=sys.stderr)
        return 1
    print(pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
