"""How the CLI shows things: tables, JSON, and the live progress of a build."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from occo.enactor import render_change
from occo.infobroker import Store

__all__ = ["table", "print_json", "status_table", "plan_text", "Progress"]


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain text table with a header and aligned columns."""
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_json(data: Any, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def status_table(status: dict[str, Any], now: float | None = None) -> str:
    """The status as a table; its last line says whether the states are stored (and how
    old) or observed now. ``now`` (default: the wall clock) is what ages are measured to."""
    rows = []
    for node in status["nodes"]:
        s = node["scaling"]
        scaling = f"{s['actual']}/{s['target']} ({s['min']}-{s['max']})"
        if not node["instances"]:
            rows.append([node["name"], scaling, "-", "-", "-"])
        for i, inst in enumerate(node["instances"]):
            rows.append([node["name"] if i == 0 else "", scaling if i == 0 else "",
                         inst["instance_id"], inst["state"] + ("" if inst["intent"] != "dropping"
                                                               else " (dropping)")
                         + (" (outdated)" if inst.get("outdated") else ""),
                         ", ".join(inst["addresses"] or inst["private_addresses"]) or "-"])
    head = (f"infrastructure {status['name']} ({status['infra_id']}): {status['status']}, "
            f"{status['ready']}/{status['instances']} instances ready")
    lines = [head, table(rows, ["NODE", "SCALING act/tgt (min-max)", "INSTANCE", "STATE",
                                "ADDRESSES"]), *_changed(status)]
    stale = sum(bool(i.get("outdated")) for n in status["nodes"] for i in n["instances"])
    if stale:
        lines.append(f"{stale} instance(s) outdated: built from another definition than the "
                     "stored description's; `occo plan -i INFRA_ID` shows why")
    return "\n".join([*lines, _freshness(status, time.time() if now is None else now)])


def plan_text(plan: dict[str, Any]) -> str:
    """``occo plan`` as text: the counts, a row per node, then each replacement's reasons
    as diff lines (``-`` what the instance was built from, ``+`` what it would be now)."""
    target = plan["infra_id"] or "a new infrastructure"
    lines = [f"plan for {plan['name']} ({target}): {plan['creates']} to create, "
             f"{plan['drops']} to drop, {plan.get('replaces', 0)} to replace, "
             f"{plan.get('unchanged', 0)} unchanged"]
    rows = []
    for node, entry in plan["nodes"].items():
        why = list(entry["reasons"])
        if entry.get("replace"):
            keys = sorted({c["key"] for r in entry["replacements"] for c in r["changes"]})
            why.append("replace: " + ", ".join(keys))
        rows.append([node, entry.get("unchanged", 0), entry["create"], entry["drop"],
                     entry.get("replace", 0), "; ".join(why)])
    if rows:
        lines.append(table(rows, ["NODE", "UNCHANGED", "CREATE", "DROP", "REPLACE", "WHY"]))
    replacing = [(node, r) for node, entry in plan["nodes"].items()
                 for r in entry.get("replacements", ())]
    if replacing:
        lines.append("to replace (`occo build` replaces them in turn: each node's new "
                     "instances are ready before old ones are dropped, within its update "
                     "limits):")
    for node, item in replacing:
        forced = f", forced by {', '.join(item['forced_by'])}" if item["forced_by"] else ""
        lines.append(f"  {node} {item['instance_id']}{forced}:")
        lines += [f"    {line}" for change in item["changes"] for line in render_change(change)]
    return "\n".join(lines) + "\n"


def _changed(status: dict[str, Any]) -> list[str]:
    """After a refresh: one line per instance whose state is not the stored one."""
    return [f"  {inst['instance_id']}: stored {inst['stored_state']}, now {inst['state']}"
            + (f": {inst['failure']}" if inst.get("failure") else "")
            for node in status["nodes"] for inst in node["instances"]
            if status.get("refreshed") and inst["state"] != inst.get("stored_state")]


def _freshness(status: dict[str, Any], now: float) -> str:
    """One line: whether the states shown are stored (last confirmed when, by what) or
    were observed now by a refresh."""
    if status.get("refreshed"):
        shown = [i for n in status["nodes"] for i in n["instances"]]
        observed = sum(i["confirmed_by"] == "refresh" for i in shown)
        unknown = sum(i["state"] == "unknown" != i.get("stored_state") for i in shown)
        text = f"state observed now (refresh): {observed} of {len(shown)} instance(s) observed"
        if unknown:
            text += f", {unknown} unknown"
        if len(shown) - observed - unknown:
            text += f"; {len(shown) - observed - unknown} not asked (being created, dropped " \
                    "or failed): as stored"
        return text
    if status.get("confirmed_at") is None:
        return "no instances stored; `occo status --refresh` asks the clouds now"
    labels: dict[str | None, str] = {"maintenance": "by maintenance",
                                     "processor": "when it was built or last changed"}
    by = labels.get(status.get("confirmed_by"), "")
    return (f"state as stored, last confirmed {_age(now - status['confirmed_at'])} ago"
            + (f" ({by})" if by else "") + "; `occo status --refresh` asks the clouds now")


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


class Progress:
    """Follows an infrastructure's events while a long command runs.

    On a terminal: one live line (nodes ready of total, what is happening, elapsed time).
    Otherwise: one plain line per event worth reading.
    """

    SHOWN = {"node.ready", "node.failed", "node.dropped", "node.drop_failed", "healing",
             "healing.braked", "scaling", "scaling.clamped", "infra.failing",
             "infra.cancelling", "infra.resumed", "node.outdated", "rollout.started",
             "node.replacing", "rollout.finished", "rollout.failed", "rollout.rolling_back"}

    def __init__(self, store: Store, stream: TextIO, *, tty: bool | None = None,
                 interval: float = 0.2) -> None:
        self.store = store
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.interval = interval
        self.infra_id: str | None = None
        self.after = 0
        self.started = time.monotonic()
        self.ready = 0
        self.total = 0
        self.busy = 0
        self.last = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, infra_id: str, *, after: int | None = None) -> None:
        self.infra_id = infra_id
        if after is None:
            last = self.store.last_event(infra_id)
            after = last.position if last is not None else 0
        self.after = after
        self.ready = sum(1 for i in self.store.list_instances(infra_id) if str(i.state) == "ready")
        self._thread = threading.Thread(target=self._run, name="occo-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
        self.poll()

    def poll(self) -> None:
        if self.infra_id is None:
            return
        try:
            events = self.store.read_events(self.infra_id, after=self.after, limit=10_000)
            targets = self.store.get_scaling_targets(self.infra_id)
        except Exception:  # the progress line must never break the command
            return
        self.total = sum(targets.values()) or self.total
        for event in events:
            self.after = event.position
            self._count(event.type)
            self.last = _describe(event)
            if not self.tty and event.type in self.SHOWN:
                self._line(self.last)
        if self.tty:
            elapsed = time.monotonic() - self.started
            text = (f"\r{self.ready}/{self.total} nodes ready  {self.busy} in progress  "
                    f"{int(elapsed // 60):02d}:{int(elapsed % 60):02d}  {self.last[:60]}")
            self.stream.write(text.ljust(110))
            self.stream.flush()

    def _count(self, kind: str) -> None:
        if kind == "node.creating":
            self.busy += 1
        elif kind == "node.ready":
            self.ready += 1
            self.busy = max(0, self.busy - 1)
        elif kind == "node.failed":
            self.busy = max(0, self.busy - 1)

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[{elapsed:6.1f}s] {self.ready}/{self.total} ready  {text}\n")
        self.stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _describe(event: Any) -> str:
    d = event.details or {}
    who = f"{event.node_name} {str(event.instance_id or '')[:8]}".strip()
    reason = d.get("reason") or d.get("message") or ""
    words = {"node.creating": "creating", "node.created": "created", "node.ready": "ready",
             "node.failed": "failed", "node.dropping": "dropping", "node.dropped": "dropped",
             "node.drop_failed": "drop failed"}
    if event.type == "node.replacing":
        return (f"{event.node_name}: replacing: {d.get('creating', 0)} to create, "
                f"{len(d.get('dropping') or ())} to drop, {d.get('outdated', 0)} outdated "
                f"left (max_surge {d.get('max_surge')}, max_unavailable "
                f"{d.get('max_unavailable')})")
    if event.type in words:
        text = f"{who}: {words[event.type]}"
        if event.type == "node.ready" and d.get("addresses"):
            text += f" at {', '.join(d['addresses'])}"
        return text + (f" ({reason})" if reason and event.type != "node.creating" else "")
    return f"{event.type}{': ' + reason if reason else ''}"
