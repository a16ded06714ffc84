"""Recognising processes by pid *and* start time, from Linux's /proc.

A pid alone is not an identity: once a process is gone the kernel hands its pid to a new
one. The local backend therefore records each process's start time (field 22 of
``/proc/<pid>/stat``, in clock ticks since boot) and the boot id, and treats a process as
its own only when all three match. A zombie (exited, not yet reaped) counts as gone.

Process groups: a group id cannot be handed out again while any process of the group
lives, so when the group's leader (pid == pgid) is gone or is a different process (other
start time), the members found with that pgid are still the node's own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcInfo", "proc_info", "boot_id", "is_alive", "group_members"]

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcInfo:
    pid: int
    state: str
    pgid: int
    start_time: int

    @property
    def running(self) -> bool:
        return self.state not in ("Z", "X", "x")


def _parse(pid: int, text: str) -> ProcInfo | None:
    # "pid (comm) S ppid pgrp ..."; comm may hold spaces and parentheses.
    close = text.rfind(")")
    if close < 0:
        return None
    fields = text[close + 2:].split()
    if len(fields) < 20:
        return None
    return ProcInfo(pid=pid, state=fields[0], pgid=int(fields[2]), start_time=int(fields[19]))


def proc_info(pid: int) -> ProcInfo | None:
    """What /proc says about ``pid`` now, or None when there is no such process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:   # no such process (any more)
        return None
    return _parse(pid, text)


_BOOT_ID: str | None = None


def boot_id() -> str:
    """This boot's id: start times are only comparable within one boot."""
    global _BOOT_ID
    if _BOOT_ID is None:
        try:
            _BOOT_ID = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            _BOOT_ID = "unknown"
    return _BOOT_ID


def is_alive(pid: int | None, start_time: int | None, boot: str | None = None) -> bool:
    """Whether the very process recorded as (pid, start time, boot id) still runs."""
    if not pid or start_time is None:
        return False
    if boot is not None and boot != boot_id():
        return False
    info = proc_info(int(pid))
    return info is not None and info.running and info.start_time == int(start_time)


def group_members(pgid: int, leader_start: int | None, boot: str | None = None) -> list[int]:
    """Live pids of the process group ``pgid`` that the recorded leader started.

    Empty when the machine rebooted, or when the pid ``pgid`` now belongs to a different
    process that leads its own group (the old group is gone, the id was reused).
    """
    if not pgid or (boot is not None and boot != boot_id()):
        return []
    leader = proc_info(pgid)
    if leader is not None and leader_start is not None and leader.start_time != leader_start:
        return []  # the id is in use by another process: the old group is gone
    members = []
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        info = proc_info(int(entry.name))
        if info is not None and info.pgid == pgid and info.running:
            members.append(info.pid)
    return members
