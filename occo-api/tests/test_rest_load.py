"""50 concurrent clients read an infrastructure's status over HTTP while its build of some
hundreds of dummy nodes runs. Checked: every answer is a 200 with a consistent status, and
what a client sees never goes backwards. The latency figures (p50, p99) are recorded in the
test report (JUnit XML) as suite properties, not asserted against a time
(tools/bench/bench_rest.py measures them at a larger size)."""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from rest_support import Client, Setup

from occo.api.config import load_config
from occo.api.rest import RestService
from occo.api.rest_state import import_definitions
from occo.util.testing import wait_until

CLIENTS = 50
REQUESTS_PER_CLIENT = 40   # bounded: at most 2,000 requests in all
APPS = 300


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    setup = Setup(tmp_path)
    setup.write(processing={"max_parallel": APPS + 10, "batch_size": 256},
                rest={"threads": 16})
    (tmp_path / "nodes.yaml").write_text(
        "'node_def:db_t':\n  - resource: {type: dummy, create_latency: 0.5}\n"
        "'node_def:app_t':\n  - resource: {type: dummy, create_latency: 1.0}\n")
    svc = RestService(load_config(setup.config_file), port=0)
    import_definitions(svc.occo, [tmp_path / "nodes.yaml"])
    svc.start()
    yield svc
    assert svc.stop() == []


def test_fifty_clients_read_status_while_a_build_runs(service, record_testsuite_property):
    description = (f"infra_name: big\nnodes:\n  - {{name: db, type: db_t}}\n"
                   f"  - {{name: app, type: app_t, scaling: {{min: {APPS}, max: {APPS}}}}}\n"
                   "dependencies: [[app, db]]\n")
    admin = Client(service.port, service.token)
    status, body, _ = admin.post("/infrastructures/", description)
    assert status == 202, body
    infra_id = body["infraid"]
    start = threading.Barrier(CLIENTS + 1)
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    problems: list[str] = []

    def reader(index: int) -> None:
        client = Client(service.port, service.token)
        seen = 0
        try:
            start.wait(timeout=30)
            for _ in range(REQUESTS_PER_CLIENT):
                began = time.perf_counter()
                status, shape, _ = client.get(f"/infrastructures/{infra_id}")
                latencies[index].append(time.perf_counter() - began)
                if status != 200:
                    problems.append(f"client {index}: {status} {shape}")
                    return
                ready = sum(i["state"] == "ready" for n in shape.values()
                            for i in n["instances"].values())
                total = sum(len(n["instances"]) for n in shape.values())
                if ready < seen or total > APPS + 1 or shape["app"]["scaling"]["max"] != APPS:
                    problems.append(f"client {index}: inconsistent ({seen} -> {ready} ready, "
                                    f"{total} instances)")
                    return
                seen = ready
                if ready == APPS + 1:
                    return
        except Exception as exc:  # reported below
            problems.append(f"client {index}: {exc!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert problems == []
    wait_until(lambda: admin.get(f"/infrastructures/{infra_id}?format=occo")[1]["status"]
             == "ready", timeout=120, what="build finished")
    _, final, _ = admin.get(f"/infrastructures/{infra_id}?format=occo")
    assert final["ready"] == APPS + 1 and final["busy"] is None
    admin.close()

    flat = [x for per_client in latencies for x in per_client]
    assert len(flat) >= CLIENTS
    figures = {"requests": len(flat), "p50_ms": round(statistics.median(flat) * 1000, 1),
               "p99_ms": round(percentile(flat, 99) * 1000, 1),
               "max_ms": round(max(flat) * 1000, 1)}
    for key, value in figures.items():
        record_testsuite_property(f"rest_status_{key}", value)
    print(f"\n{CLIENTS} clients, build of {APPS + 1} nodes: {figures}")
