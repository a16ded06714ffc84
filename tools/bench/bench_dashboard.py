#!/usr/bin/env python3
"""Benchmark of the dashboard (issue 21): a 1,000-node build watched by open dashboards.

The REST service runs in this process on 127.0.0.1 (SQLite state in a temporary
directory, the dummy cloud in memory; 1 db and ``--nodes`` app nodes waiting for it,
create latency ``--latency`` s). Debian's chromium, driven by Playwright, opens
``--pages`` dashboards of the infrastructure (each its own browser context and
session) before the build starts. For the same build with 0 and with ``--pages``
dashboards, side by side in one run, it reports:

- the time from an event (its ``time``, written by the service) to its line appearing
  on each page (a MutationObserver in the page reads the clock when the line is added):
  p50, p95, max, and the events seen;
- the CPU seconds this process (the service and the build) used during the build, and
  so what the open dashboards cost it (the browser's own CPU is in other processes and
  not counted).

Run it with a Python that has occo-api and playwright installed::

    env/test/occo-api/bin/python tools/bench/bench_dashboard.py [--nodes 1000] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

WATCH = """() => {
  window.__lags = [];
  const log = document.getElementById("events");
  new MutationObserver((changes) => {
    const now = Date.now() / 1000;
    for (const change of changes)
      for (const line of change.addedNodes)
        if (line.dataset && line.dataset.time) window.__lags.push(now - Number(line.dataset.time));
  }).observe(log, {childList: true});
  return true;
}"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(nodes: int, pages: int, latency: float, browser) -> dict:
    from occo.api.config import load_config
    from occo.api.rest import RestService
    from occo.api.rest_state import import_definitions

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(root / "data")
        os.environ["XDG_CONFIG_HOME"] = str(root / "config")
        (root / "occo.yaml").write_text(f"""
store: {{backend: sqlite, path: {root / 'state.sqlite'}}}
clouds: {{dummy: {{store: memory}}}}
processing: {{max_parallel: {nodes + 10}, rate: 0, batch_size: 256, poll_interval: 0.05,
             first_poll: 0.05}}
rest: {{token_file: {root / 'token'}, threads: 16}}
""")
        (root / "nodes.yaml").write_text(
            f"'node_def:db_t':\n  - resource: {{type: dummy, create_latency: {latency}}}\n"
            f"'node_def:app_t':\n  - resource: {{type: dummy, create_latency: {latency}}}\n")
        service = RestService(load_config(root / "occo.yaml"), port=0)
        import_definitions(service.occo, [root / "nodes.yaml"])
        service.start()
        base = f"http://127.0.0.1:{service.port}"
        headers = {"Authorization": f"Bearer {service.token}"}
        contexts = []
        try:
            conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=120)
            # a first, small description makes the infrastructure so the pages can open it
            conn.request("POST", "/infrastructures/", headers=headers, body=(
                "infra_name: bench\nnodes:\n  - {name: db, type: db_t}\n"))
            infra_id = json.loads(conn.getresponse().read())["infraid"]
            wait_ready(conn, headers, infra_id)
            opened = []
            for _ in range(pages):
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{base}/ui/login")
                page.fill("#token", service.token)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/ui/")
                page.goto(f"{base}/ui/infra/{infra_id}")
                page.wait_for_selector("#events")
                page.wait_for_function("() => document.body.dataset.stream === 'open'")
                page.evaluate(WATCH)
                contexts.append(context)
                opened.append(page)
            before, began = cpu(), time.monotonic()
            conn.request("POST", "/infrastructures/", headers=headers, body=(
                f"infra_name: bench\nnodes:\n  - {{name: db, type: db_t}}\n"
                f"  - {{name: app, type: app_t, scaling: {{min: {nodes}, max: {nodes}}}}}\n"
                "dependencies: [[app, db]]\n"))
            answer = conn.getresponse()
            assert answer.status == 202, answer.read()
            answer.read()
            wait_ready(conn, headers, infra_id, nodes + 1)
            wall, used = time.monotonic() - began, cpu() - before
            lags: list[float] = []
            if opened:
                # the last events reach the pages within a stream's poll; let them land
                deadline = time.monotonic() + 30
                total = count_events(conn, headers, infra_id)
                while time.monotonic() < deadline and any(
                        int(p.evaluate("() => document.body.dataset.lastEvent || 0"))
                        < total for p in opened):
                    time.sleep(0.2)
                for page in opened:
                    lags += page.evaluate("() => window.__lags")
            conn.close()
            out = {"nodes": nodes + 1, "pages": pages, "build_wall_s": round(wall, 2),
                   "service_cpu_s": round(used, 2)}
            if lags:
                out.update(events_seen=len(lags), lag_p50_ms=round(percentile(lags, 50) * 1000),
                           lag_p95_ms=round(percentile(lags, 95) * 1000),
                           lag_max_ms=round(max(lags) * 1000))
            return out
        finally:
            for context in contexts:
                context.close()
            service.stop()


def wait_ready(conn, headers, infra_id, at_least: int = 1) -> None:
    began = time.monotonic()
    while time.monotonic() - began < 600:
        conn.request("GET", f"/infrastructures/{infra_id}?format=occo", headers=headers)
        status = json.loads(conn.getresponse().read())
        if status["status"] == "ready" and status["busy"] is None \
                and status["ready"] >= at_least:
            return
        time.sleep(0.1)
    raise SystemExit("the build did not finish within 600 s")


def count_events(conn, headers, infra_id) -> int:
    last = 0
    while True:
        conn.request("GET", f"/infrastructures/{infra_id}/events?after={last}&limit=10000",
                     headers=headers)
        body = json.loads(conn.getresponse().read())
        if not body["events"]:
            return last
        last = body["last"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=999, help="app nodes (plus one db)")
    parser.add_argument("--pages", type=int, default=5, help="dashboards open")
    parser.add_argument("--latency", type=float, default=1.0, help="create latency, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import logging
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
        try:
            results = [run(args.nodes, pages, args.latency, browser)
                       for pages in (0, args.pages)]
        finally:
            browser.close()
    quiet, watched = results
    summary = {"python": platform.python_version(), "results": results,
               "cpu_ratio": round(watched["service_cpu_s"] / max(quiet["service_cpu_s"], 1e-9),
                                  2)}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    for r in results:
        line = (f"{r['nodes']} nodes, {r['pages']} dashboards: build {r['build_wall_s']} s, "
                f"service CPU {r['service_cpu_s']} s")
        if "lag_p95_ms" in r:
            line += (f"; event to page p50 {r['lag_p50_ms']} ms, p95 {r['lag_p95_ms']} ms, "
                     f"max {r['lag_max_ms']} ms over {r['events_seen']} events")
        print(line)
    print(f"service CPU with {args.pages} dashboards / with none: {summary['cpu_ratio']}x")


if __name__ == "__main__":
    main()
