"""The demo: OCCO building, healing, scaling and destroying a real infrastructure of local
processes, narrated step by step.

Every change goes through the ``occo`` command (run in this process with
``occo.api.cli.main``, and shown as the user would type it); reading what the demo needs
(the load balancer's address, a node's process) goes through the Python API
(``occo.api.Occo``) and the local cloud's documented records. Whatever the demo starts,
it stops: the infrastructure is destroyed at the end, also when a step fails or the run
is interrupted, unless ``--keep`` is given.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from occo.api import Occo, load_config
from occo.api import main as occo_main
from occo.util import EXIT_INTERRUPTED, OccoError

from ._node import HttpAnswer, http_request
from .console import Console, shown_path
from .errors import StepFailed
from .workspace import Workspace, example_dir, infra_variables, leftover_processes

__all__ = ["DemoOptions", "Demo", "wait_for", "describe_event"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    """What to run: ``example`` is ``webapp``, ``ping`` or a directory with infra.yaml."""

    example: str = "webapp"
    workdir: Path
    keep: bool = False
    scale_to: int = 4
    requests: int = 6
    timeout: float = 60.0


def wait_for(what: str, check: Callable[[], Any], timeout: float,
             interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns a true value; StepFailed after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StepFailed(what, f"not done within {timeout:g} s")
        pause.wait(interval)


def _proc_start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


class Demo:
    """One run of the demo in a workspace."""

    def __init__(self, options: DemoOptions, console: Console | None = None) -> None:
        self.options = options
        self.workspace = Workspace(options.workdir)
        self.example = example_dir(options.example)
        self.infra_file = self.example / "infra.yaml"
        self.console = console or Console()
        self.infra_id: str | None = None
        self.occo_program = self._occo_program()

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _occo_program() -> str:
        beside = Path(sys.executable).parent / "occo"
        return shown_path(beside) if beside.exists() else "occo"

    def occo(self, step: str, *args: str, check: bool = True) -> int:
        """Run ``occo --config <demo config> ARGS`` in this process, showing it first."""
        argv = ["--config", shown_path(self.workspace.config_path), *args]
        self.console.command([self.occo_program, *argv])
        sys.stdout.flush()
        code = occo_main(argv)
        sys.stdout.flush()
        if code == EXIT_INTERRUPTED:  # Ctrl-C or SIGTERM while the command ran
            raise KeyboardInterrupt
        if check and code != 0:
            raise StepFailed(step, f"`occo {args[0]}` exited with status {code}")
        return code

    @property
    def built_id(self) -> str:
        """The built infrastructure's id: the steps after :meth:`build` use it (build
        fails when it finds none)."""
        assert self.infra_id is not None, "build() sets the infrastructure's id first"
        return self.infra_id

    def api(self) -> Occo:
        return Occo(load_config(self.workspace.config_path))

    def status(self) -> dict[str, Any]:
        with self.api() as occo:
            return occo.status(self.built_id)

    def ready_instances(self, node: str) -> list[dict[str, Any]]:
        for entry in self.status()["nodes"]:
            if entry["name"] == node:
                return [i for i in entry["instances"] if i["state"] == "ready"]
        raise StepFailed("status", f"the infrastructure has no node {node!r}")

    def fetch(self, step: str, url: str) -> HttpAnswer:
        try:
            return http_request("GET", url, timeout=5)
        except OSError as exc:
            raise StepFailed(step, f"GET {url}: {exc}") from exc

    # ---------------------------------------------------------------- the run

    def run(self) -> int:
        """Run every step; returns the exit status (0 done, 1 a step failed, 130
        interrupted)."""
        opts = self.options
        specific = {"webapp": 3, "ping": 1}.get(opts.example, 0)
        self.console.steps = 3 + specific
        self.console.write(f"OCCO demo: the {self.example.name} example "
                           f"({shown_path(self.example)}) on the local cloud: every node is "
                           "a process on this machine, on its own loopback address.")
        self.console.write(f"Its state and nodes live in {shown_path(self.workspace.root)}, "
                           "not in your own OCCO state.")
        self.workspace.prepare()
        ok = False
        code = 1
        previous = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread
            previous = None
        try:
            self.clear_leftovers()
            self.build()
            if opts.example == "webapp":
                self.webapp()
            elif opts.example == "ping":
                self.ping()
            ok = True
            code = 0
        except StepFailed as exc:
            self.console.write(f"\ndemo: step failed: {exc}")
        except OccoError as exc:
            self.console.write(f"\ndemo: {exc}")
        except KeyboardInterrupt:
            self.console.write("\ndemo: interrupted")
            code = 130
        finally:
            try:
                if not self.finish(keep=opts.keep) and code == 0:
                    code, ok = 1, False
            except KeyboardInterrupt:
                self.console.write("demo: interrupted again while cleaning up; run "
                                   f"`occo --config {shown_path(self.workspace.config_path)} "
                                   "destroy -i ID` for what is left")
                code, ok = 130, False
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.console.summary(ok)
        return code

    def clear_leftovers(self) -> None:
        with self.api() as occo:
            kept = occo.list()
        if kept:
            self.console.write()
            self.console.write("An earlier demo run kept infrastructures here "
                               f"({', '.join(k['name'] for k in kept)}); destroying them "
                               "first.")
            for item in kept:
                self.occo("destroy what an earlier run kept", "destroy", "-i",
                          item["infra_id"])

    def build(self) -> None:
        infra = shown_path(self.infra_file)
        self.console.step("Check the description and its node definitions")
        self.occo("validate", "validate", infra)
        self.console.step("Build the infrastructure (nodes start as soon as what they "
                          "depend on is ready)")
        started = time.monotonic()
        code = self.occo("build", "build", infra, check=False)
        with self.api() as occo:
            found = [i for i in occo.list() if i["name"] == self._infra_name()]
        if found:
            self.infra_id = found[-1]["infra_id"]
        if code != 0:
            raise StepFailed("build", f"`occo build` exited with status {code}")
        if self.infra_id is None:
            raise StepFailed("build", "the built infrastructure is not in the store")
        self.console.timing("build", time.monotonic() - started)

    def _infra_name(self) -> str:
        from occo.util import load_yaml_file
        data = load_yaml_file(self.infra_file)
        return str(data.get("infra_name")) if isinstance(data, dict) else ""

    # ---------------------------------------------------------------- webapp

    def webapp(self) -> None:
        port = int(infra_variables(self.infra_file).get("lb_port", 8000))
        lb = self.ready_instances("lb")
        if not lb:
            raise StepFailed("load balancer", "no ready lb instance")
        url = f"http://{lb[0]['addresses'][0]}:{port}/"
        self.console.write()
        self.console.write(f"The load balancer: {url}")

        self.console.step("Fetch a page through the load balancer")
        self.console.command(["curl", f"{url}?format=text"])
        page = self.fetch("fetch a page", f"{url}?format=text")
        if page.status != 200:
            raise StepFailed("fetch a page", f"the load balancer answered {page.status}: "
                                             f"{page.text[:200]}")
        self.console.block(page.text)
        self.spread(url, self.options.requests)

        self.heal(url)
        self.scale(url)

    def spread(self, url: str, count: int) -> Counter:
        """Send ``count`` requests through the balancer; show which web node served each."""
        served: Counter = Counter()
        for _ in range(count):
            answer = self.fetch("requests through the load balancer", f"{url}?format=text")
            if answer.status != 200:
                raise StepFailed("requests through the load balancer",
                                 f"answered {answer.status}: {answer.text[:200]}")
            instance, _, address = answer.headers.get("x-served-by", "? ?").partition(" ")
            served[f"web {instance[:8]} at {address}"] += 1
        self.console.note(f"{count} more requests through the load balancer were served by:")
        for who, n in sorted(served.items()):
            self.console.note(f"  {who}: {n}")
        return served

    def lb_backends(self, url: str) -> list[str]:
        try:
            return list(http_request("GET", url + "lb-status", timeout=3).json()["backends"])
        except (OSError, ValueError, KeyError):
            return []

    def wait_lb_follows(self, url: str, step: str) -> None:
        """Until the balancer lists exactly the ready web nodes."""
        def follows() -> bool:
            wanted = {f"http://{i['addresses'][0]}:" for i in self.ready_instances("web")}
            seen = {b.rsplit(":", 1)[0] + ":" for b in self.lb_backends(url)}
            return bool(wanted) and wanted == seen
        wait_for(f"{step}: the load balancer following", follows, self.options.timeout)

    def heal(self, url: str) -> None:
        step = "heal a killed web node"
        self.console.step("Kill a web node, and watch OCCO replace it")
        victim = self.ready_instances("web")[0]
        pid = self.node_pid(victim["instance_id"])
        with self.api() as occo:
            events = occo.events(self.built_id)
        after = events[-1]["position"] if events else 0
        self.console.note(f"web node {victim['instance_id'][:8]} at "
                          f"{victim['addresses'][0]} runs as process {pid}; killing it as a "
                          "crash would:")
        self.console.command(["kill", "-9", str(pid)])
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        self.console.note("maintenance passes (`occo maintain` once, as the maintenance loop "
                          "of `occo serve` does at its interval) until it is replaced:")

        def replaced() -> bool:
            self.occo(step, "maintain", "-i", self.built_id, check=False)
            ready = self.ready_instances("web")
            ids = {i["instance_id"] for i in ready}
            return victim["instance_id"] not in ids and len(ready) >= 2
        wait_for(step, replaced, self.options.timeout, interval=0.5)
        self.console.timing("heal: kill to replacement ready", time.monotonic() - killed)
        self.show_events(after)
        self.wait_lb_follows(url, step)
        self.spread(url, self.options.requests)

    def show_events(self, after: int) -> None:
        """The events since position ``after``, one short line each (``occo events``
        shows them in full, with the failed node's log tail)."""
        with self.api() as occo:
            events = occo.events(self.built_id, after=after)
        self.console.note("what happened, from the infrastructure's event log (in full: "
                          f"{self.occo_program} --config "
                          f"{shown_path(self.workspace.config_path)} events -i "
                          f"{self.infra_id} --after {after}):")
        for event in events:
            self.console.note("  " + describe_event(event))

    def node_pid(self, instance_id: str) -> int:
        """The pid of a local node's command, from the local cloud's records (child.json),
        checked against /proc so a reused pid is never taken for it."""
        with self.api() as occo:
            record = occo.store.get_instance(instance_id)
        workdir = Path((record.resource or {}).get("workdir")
                       or self.workspace.local_root / self.built_id / instance_id)
        try:
            child = json.loads((workdir / "child.json").read_text())
        except (OSError, ValueError) as exc:
            raise StepFailed("find the node's process", f"{workdir / 'child.json'}: {exc}") from exc
        if _proc_start_time(int(child["pid"])) != child.get("start_time"):
            raise StepFailed("find the node's process",
                             f"process {child['pid']} of node {instance_id[:8]} is not running")
        return int(child["pid"])

    def scale(self, url: str) -> None:
        step = "scale web"
        target = self.options.scale_to
        self.console.step(f"Scale web to {target}")
        started = time.monotonic()
        self.occo(step, "scale", "-i", self.built_id, "-n", "web", "-s", str(target))
        self.console.timing(f"scale web to {target}", time.monotonic() - started)
        self.occo(step, "status", "-i", self.built_id)
        ready = self.ready_instances("web")
        if len(ready) != target:
            raise StepFailed(step, f"{len(ready)} web nodes ready, wanted {target}")
        self.wait_lb_follows(url, step)
        self.spread(url, max(self.options.requests, 2 * target))

    # ---------------------------------------------------------------- ping

    def ping(self) -> None:
        step = "the sender's report"
        self.console.step("Read what the ping sender reached")
        sender = self.ready_instances("ping-sender")
        if not sender:
            raise StepFailed(step, "no ready ping-sender instance")
        url = f"http://{sender[0]['addresses'][0]}:8000/"
        self.console.command(["curl", url])
        answer = self.fetch(step, url)
        self.console.block(answer.text)
        if answer.status != 200:
            raise StepFailed(step, f"the sender did not reach the receiver ({answer.status})")
        self.console.note("(the same report is in ping-result.txt in the sender's working "
                          "directory, as in Occopus's tutorial)")

    # ---------------------------------------------------------------- the end

    def finish(self, *, keep: bool) -> bool:
        """Destroy the infrastructure (unless ``keep``) and check nothing is left."""
        if self.infra_id is None:
            return True
        config = shown_path(self.workspace.config_path)
        if keep:
            self.console.write()
            self.console.write(f"Kept (--keep): infrastructure {self.infra_id}. Look at it "
                               "and destroy it with:")
            for command in ("status", "events", "destroy"):
                self.console.note(f"{self.occo_program} --config {config} {command} -i "
                                  f"{self.infra_id}")
            return True
        self.console.step("Destroy everything")
        started = time.monotonic()
        code = self.occo("destroy", "destroy", "-i", self.infra_id, check=False)
        self.console.timing("destroy", time.monotonic() - started)
        left = self.workspace.node_dirs(self.infra_id)
        procs = leftover_processes(self.infra_id)
        if code != 0 or left or procs:
            self.console.write(f"demo: destroy left things behind: exit status {code}, "
                               f"{len(left)} node directories, processes {procs}")
            return False
        self.console.note("nothing left: no node directory, no process of the "
                          "infrastructure.")
        return True


def describe_event(event: dict[str, Any]) -> str:
    """One line for an event: position, time, type, node and instance, and the first line
    of its reason."""
    when = time.strftime("%H:%M:%S", time.localtime(event["time"]))
    who = " ".join(x for x in (event.get("node_name"), (event.get("instance_id") or "")[:8])
                   if x)
    details = event.get("details") or {}
    why = str(details.get("reason") or details.get("message") or "").strip()
    if event["type"] == "node.ready" and details.get("addresses"):
        why = "at " + ", ".join(details["addresses"])
    why = why.splitlines()[0] if why else ""
    if "; log tail:" in why:  # the failed node's log follows: `occo events` shows it
        why = why.split("; log tail:")[0] + ")"
    if len(why) > 72:
        why = why[:69] + "..."
    return f"{event['position']:4d} {when} {event['type']:16s} {who:18s} {why}".rstrip()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
