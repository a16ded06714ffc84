#!/usr/bin/env python3
"""Benchmark of healing on the local cloud: from a node's death to its replacement passing
its health check.

Three web nodes (a Python HTTP server each, checked on its port and URL) are built on the
local backend, and the maintenance loop runs with ``--interval`` seconds between passes.
Then, ``--rounds`` times: one node's process is killed with SIGKILL, and the time until
its replacement is ready is measured, split into

- detection and decision: from the kill to the replacement's ``node.creating`` event;
- the node's own start time: from ``node.creating`` to ``node.ready`` (process start,
  server listening, health check passing), which no orchestrator can remove.

Target (ARCHITECTURE.md section 6): heal latency under 2 s plus the node's start time.
Run it with a Python that has occo-api installed::

    env/test/occo-api/bin/python tools/bench/bench_heal.py [--interval 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

SERVE = "exec \"$OCCO_PYTHON\" -m http.server 8080 --bind \"$OCCO_NODE_IP\""


def write(directory: Path) -> Path:
    (directory / "nodes").mkdir(parents=True)
    (directory / "infra.yaml").write_text(
        "infra_name: heal\nnodes:\n  - {name: web, type: web_t, scaling: {min: 3, max: 3}}\n")
    (directory / "nodes" / "node_definitions.yaml").write_text(f"""'node_def:web_t':
  - resource:
      type: local
      command: '{SERVE}'
      files: {{index.html: "ok"}}
      grace_period: 1
    health_check:
      ping: false
      ports: [8080]
      urls: ['http://{{{{ ip }}}}:8080/index.html']
""")
    return directory / "infra.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between maintenance passes")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from occo.api import Occo, load_config

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "occo.yaml").write_text(f"""
store: {{backend: sqlite, path: {tmp_path / 'state.sqlite'}}}
clouds: {{local: {{root: {tmp_path / 'local'}}}}}
processing: {{poll_interval: 0.1, first_poll: 0.02}}
maintenance: {{interval: {args.interval}, wake_check: 0.1}}
""")
        with Occo(load_config(tmp_path / "occo.yaml")) as occo:
            infra_id = occo.build(write(tmp_path))["infra_id"]
            occo.attach(infra_id)
            stop = threading.Event()
            loop = threading.Thread(target=occo.maintain, kwargs={"once": False, "stop": stop})
            loop.start()
            heal, start = [], []
            try:
                for _ in range(args.rounds):
                    victim = occo.store.list_instances(infra_id)[0]
                    after = occo.events(infra_id, limit=1_000_000)[-1]["position"]
                    child = tmp_path / "local" / infra_id / victim.instance_id / "child.json"
                    killed = time.time()
                    os.kill(json.loads(child.read_text())["pid"], signal.SIGKILL)
                    creating = ready = None
                    while ready is None:
                        for e in occo.events(infra_id, after=after):
                            after = e["position"]
                            if e["type"] == "node.creating" and creating is None:
                                creating = e
                            elif e["type"] == "node.ready" and creating and \
                                    e["instance_id"] == creating["instance_id"]:
                                ready = e
                        time.sleep(0.02)
                    heal.append(creating["time"] - killed)
                    start.append(ready["time"] - creating["time"])
            finally:
                stop.set()
                loop.join()
                occo.destroy(infra_id)
    total = [h + s for h, s in zip(heal, start)]
    print(f"local cloud, maintenance interval {args.interval:g} s, {args.rounds} kills")
    print(f"  kill -> replacement started (detection + decision): median "
          f"{statistics.median(heal):.2f} s, max {max(heal):.2f} s")
    print(f"  node's own start time (start -> health check passes): median "
          f"{statistics.median(start):.2f} s, max {max(start):.2f} s")
    print(f"  kill -> replacement ready: median {statistics.median(total):.2f} s, "
          f"max {max(total):.2f} s")


if __name__ == "__main__":
    main()
