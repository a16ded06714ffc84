#!/usr/bin/env python3
"""Benchmark of the nova backend (issue 18), with ec2 on moto beside it.

Run it with a Python that has occo-cloudhandler and its test requirements, e.g.
env/dev::

    env/dev/bin/python tools/bench/bench_nova.py [--nodes 100] [--batch 40] [--json]

The OpenStack is the tests' own (occo.cloudhandler.testing.openstackenv): started in a
temporary directory and purged at the end, or, with ``OCCO_TEST_OPENSTACK_DIR=DIR``, the
cloud ``start-openstack.sh DIR`` keeps running. The demo project's quotas are raised
first (servers, cores, RAM and neutron ports) so that N servers fit.

N servers go through ``CloudHandlerService`` as the infrastructure processor drives it:
created in batches, polled until ACTIVE, addressed, dropped, polled until nova no
longer lists them. Reported: wall time per phase, and HTTP requests per node by method
and service, counted on the SDK's session (so token requests and lookups count too).
The target is at most 1.1 requests per node for create plus polling. The same cycle on
moto's EC2 server (bench_cloudhandler.bench_ec2) is run beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_cloudhandler import batches, bench_ec2, poll, spec

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.nova import NovaCloudHandler
from occo.cloudhandler.testing import openstackenv
from occo.util import new_id, parse_credentials

POLL_PAUSE = 1.0
CREATE_PLUS_POLL = ("POST servers", "GET servers")


def make_room(cloud: Any, nodes: int) -> None:
    """Quotas of the demo project large enough for ``nodes`` servers and their ports."""
    admin = cloud.admin()
    try:
        admin.set_compute_quotas(cloud.project_id, instances=nodes + 20,
                                 cores=10 * (nodes + 20), ram=1024 * (nodes + 20))
        admin.network.update_quota(cloud.project_id, port=2 * nodes + 50,
                                   floatingip=nodes + 20)
    finally:
        admin.close()


def requests_of(handler: NovaCloudHandler, since: dict[str, int]) -> dict[str, int]:
    now = dict(handler.requests)
    return {k: v - since.get(k, 0) for k, v in now.items() if v - since.get(k, 0)}


def bench_nova(cloud: Any, nodes: int, batch: int) -> dict[str, Any]:
    make_room(cloud, nodes)
    creds = parse_credentials({"resource": [{"type": "nova", "endpoint": cloud.auth_url,
                                             "auth_data": {"username": cloud.username,
                                                           "password": cloud.password}}]},
                              source="bench")
    service = CloudHandlerService({}, creds)
    resource = {"type": "nova", "endpoint": cloud.auth_url, "project_id": cloud.project_id,
                "image_id": cloud.image, "flavor_name": cloud.flavor,
                "network_id": cloud.network}
    handler = service.handler_for(resource)
    assert isinstance(handler, NovaCloudHandler)
    infra = new_id()
    specs = [spec(resource, infra, i) for i in range(nodes)]
    refs: list[dict] = []
    phases: dict[str, float] = {}
    per_phase: dict[str, dict[str, int]] = {}
    try:
        start = time.perf_counter()
        mark: dict[str, int] = {}
        for chunk in batches(specs, batch):
            for result in service.create_nodes(chunk):
                if "error" in result:
                    raise SystemExit(f"create failed: {result['error']['text']}")
                refs.append(result["ref"])
        phases["create"] = time.perf_counter() - start
        per_phase["create"], mark = requests_of(handler, mark), dict(handler.requests)
        rounds_up = poll(service, refs, {"running"}, batch, 900, POLL_PAUSE)
        phases["to_running"] = time.perf_counter() - start
        per_phase["poll_running"], mark = requests_of(handler, mark), dict(handler.requests)
        found: dict[str, Any] = {}
        for chunk in batches(refs, batch):
            found.update(service.get_addresses(chunk))
        addressed = sum(1 for a in found.values() if a["private_addresses"])
        per_phase["addresses"], mark = requests_of(handler, mark), dict(handler.requests)
        for chunk in batches(refs, batch):
            for result in service.drop_nodes(chunk):
                if "error" in result:
                    raise SystemExit(f"drop failed: {result['error']['text']}")
        rounds_down = poll(service, refs, {"missing", "terminated"}, batch, 900, POLL_PAUSE)
        phases["total"] = time.perf_counter() - start
        per_phase["drop_and_poll"] = requests_of(handler, mark)
    finally:
        if "total" not in phases:     # stopped half-way: leave nothing behind
            for chunk in batches(refs, batch):
                service.drop_nodes(chunk)
        service.close()
    total = dict(handler.requests)
    up = {k: v for phase in ("create", "poll_running") for k, v in per_phase[phase].items()}
    create_poll = sum(v for k, v in per_phase["create"].items()) + \
        sum(v for k, v in per_phase["poll_running"].items())
    return {"nodes": nodes, "batch": batch, "addressed": addressed,
            "wall_s": {k: round(v, 2) for k, v in phases.items()},
            "poll_rounds_to_running": rounds_up, "poll_rounds_to_gone": rounds_down,
            "requests_by_phase": per_phase, "requests_total": total,
            "create_plus_poll_requests_per_node": round(create_poll / nodes, 3),
            "create_plus_poll_servers_requests_per_node":
                round(sum(up.get(k, 0) for k in CREATE_PLUS_POLL) / nodes, 3),
            "requests_per_node": round(sum(total.values()) / nodes, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--skip-ec2", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OCCO_TEST_OPENSTACK", "start")
    with tempfile.TemporaryDirectory(prefix="bench-nova-") as tmp:
        cloud = openstackenv.provide(Path(tmp) / "cloud")
        if isinstance(cloud, str):
            raise SystemExit(cloud)
        try:
            out: dict[str, Any] = {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "openstack_start_s": round(cloud.start_seconds, 1),
                "nova": bench_nova(cloud, args.nodes, args.batch)}
        finally:
            cloud.shutdown()
    if not args.skip_ec2:
        out["ec2"] = bench_ec2(args.nodes, args.batch)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    n = out["nova"]
    print(f"nova (test OpenStack): {n['nodes']} servers created in {n['wall_s']['create']} s, "
          f"all ACTIVE after {n['wall_s']['to_running']} s, dropped and gone after "
          f"{n['wall_s']['total']} s; {n['addressed']} addressed")
    print(f"  HTTP requests per node: create+polling {n['create_plus_poll_requests_per_node']}"
          f" (servers API only: {n['create_plus_poll_servers_requests_per_node']}), whole "
          f"cycle {n['requests_per_node']}; by phase {n['requests_by_phase']}")
    if "ec2" in out:
        e = out["ec2"]
        print(f"ec2 (moto): {e['nodes']} instances, running after "
              f"{e['wall_s_to_all_running']:.2f} s, whole cycle {e['wall_s']:.2f} s; "
              f"{e['api_calls_per_node']} EC2 API calls per node "
              f"({e['http_attempts_per_node']} HTTP requests): {e['api_calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
