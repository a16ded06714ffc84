#!/usr/bin/env python3
"""Benchmark of occo.compiler: 10,000 nodes, 20,000 dependencies, 100 node types.

Goal (issue 3): compiling such a description takes under 2 s and under 200 MB.

Run it with a Python that has occo-compiler installed, e.g. the package's test env::

    env/test/compiler/bin/python tools/bench/bench_compiler.py [--nodes N] [--json]

It writes a generated description and node definitions file to a temporary directory and
measures, each phase in a fresh child process (so peak RSS belongs to that phase alone):

- ``compile``: compile_infrastructure() on the already-loaded description (located
  containers from occo.util's loader) and node definitions: the compiler's own work;
- ``compile_plain``: the same on a description loaded with PyYAML's C loader into plain
  dicts (aliases intact, no locations), so the process's peak RSS is not dominated by the
  pure-Python loader's transient memory;
- ``load``: occo.util.load_yaml_file() of the description file alone (the shared YAML
  loader, owned by occo-util);
- ``end_to_end``: compile_infrastructure(path) from the files, loading included;
- ``round_trip``: StaticDescription.to_dict(), json.dumps, json.loads, from_dict().

For each: wall time (best of ``--repeat`` runs), the tracemalloc peak of one run (Python
allocations made by the phase itself), the child's RSS before the phase (input loaded)
and its peak RSS (ru_maxrss: the whole process, interpreter, imports and input included).
The resource schema is a stand-in for the cloud handler's (type ``dummy``), so
occo-cloudhandler need not be installed.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

TYPES = 100
TEMPLATE_TYPES = 10  # types t1..t10 call getip('n0') in templates; their nodes depend on n0


def generate(directory: Path, nodes: int, edges: int, seed: int = 1) -> Path:
    """Write infra.yaml and nodes/node_definitions.yaml; return the description path."""
    rnd = random.Random(seed)
    lines = ["infra_name: bench", "user_id: bench@example.org",
             "variables: {region: eu, db: {name: app, port: 3306}}", "nodes:"]
    for i in range(nodes):
        lines += [f"  - &n{i}", f"    name: n{i}", f"    type: t{i % TYPES}",
                  "    scaling: {min: 1, max: 3}"]
        if i % 10 == 0:
            lines.append("    variables: {db: {port: 3307}, role: hot}")
        if i % 7 == 0:
            lines.append("    filter: {type: dummy, zone: a}")
    lines.append("dependencies:")
    seen: set[tuple[int, int]] = set()
    for i in range(1, nodes):  # nodes of template types wait for n0 (getip('n0'))
        if 1 <= i % TYPES <= TEMPLATE_TYPES:
            seen.add((i, 0))
            lines.append(f"  - [*n{i}, *n0]")
    while len(seen) < edges:
        a = rnd.randrange(1, nodes)
        b = rnd.randrange(0, a)
        if (a, b) not in seen:
            seen.add((a, b))
            if len(seen) % 5 == 0:
                lines += [f"  - connection: [*n{a}, *n{b}]",
                          "    mappings: [[host, db.host], {attributes: [port, db.port], "
                          "synch: true}]"]
            else:
                lines.append(f"  - [n{a}, n{b}]" if len(seen) % 3 else f"  - [*n{a}, *n{b}]")
    infra = directory / "infra.yaml"
    infra.write_text("\n".join(lines) + "\n")
    defs = ["# generated"]
    for t in range(TYPES):
        call = "{{ getip('n0') }}" if 1 <= t <= TEMPLATE_TYPES else "{{ variables.region }}"
        defs.append(f"'node_def:t{t}':")
        for zone in ("a", "b"):
            defs += [f"  - resource: {{type: dummy, zone: {zone}, name: cloud-{zone}}}",
                     "    contextualisation:",
                     "      type: cloudinit",
                     "      context_template: |",
                     "        #cloud-config",
                     "        runcmd:",
                     f"          - echo {call} > /tmp/x",
                     "          - echo '{{ variables.db.name }}:{{ variables.db.port }}'",
                     "    health_check: {ping: false, ports: [80], timeout: 60}"]
    (directory / "nodes").mkdir(exist_ok=True)
    (directory / "nodes" / "node_definitions.yaml").write_text("\n".join(defs) + "\n")
    return infra


def _schemas() -> dict:
    from occo.util import Field, Schema
    return {"dummy": Schema("dummy resource", (Field("type", "str", required=True),
                                               Field("zone", "str"), Field("name", "str")))}


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def run_phase(phase: str, infra: Path, repeat: int) -> dict:
    """Run one phase ``repeat`` times in this process; report its figures."""
    from occo.compiler import StaticDescription, compile_infrastructure, load_node_definitions
    from occo.util import load_yaml_file

    schemas = _schemas()
    kwargs = dict(resource_schemas=schemas, config_managers=(), health_checks=())
    setup: dict = {}
    if phase == "compile_plain":
        import yaml
        with open(infra, encoding="utf-8") as stream:
            setup["data"] = yaml.load(stream, Loader=yaml.CSafeLoader)
    if phase == "compile":
        setup["data"] = load_yaml_file(infra)
    if phase in ("compile", "compile_plain"):
        setup["defs"] = load_node_definitions(infra.parent / "nodes" / "node_definitions.yaml",
                                              **kwargs)
    if phase == "round_trip":
        setup["desc"] = compile_infrastructure(infra, **kwargs)

    def once():
        if phase in ("compile", "compile_plain"):
            return compile_infrastructure(setup["data"], setup["defs"], **kwargs)
        if phase == "load":
            return load_yaml_file(infra)
        if phase == "end_to_end":
            return compile_infrastructure(infra, **kwargs)
        if phase == "round_trip":
            text = json.dumps(setup["desc"].to_dict())
            return StaticDescription.from_dict(json.loads(text))
        raise ValueError(phase)

    gc.collect()
    rss_before = _current_rss_mb()
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = once()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = {"phase": phase, "best_s": round(min(times), 3), "worst_s": round(max(times), 3),
           "tracemalloc_peak_mb": round(peak / 2**20, 1), "rss_before_mb": rss_before,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if phase in ("compile", "compile_plain", "end_to_end"):
        out.update(nodes=len(result.nodes), edges=len(result.edges), depth=result.depth,
                   summary=result.summary())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--infra", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_phase(args.phase, Path(args.infra), args.repeat)))
        return 0
    with tempfile.TemporaryDirectory(prefix="occo-bench-compiler-") as tmp:
        infra = generate(Path(tmp), args.nodes, args.edges)
        if not args.json:
            print(f"generated {args.nodes} nodes, {args.edges} dependencies, {TYPES} types "
                  f"({infra.stat().st_size / 2**20:.1f} MB of YAML) on Python "
                  f"{sys.version.split()[0]}")
        ok = True
        for phase in ("compile", "compile_plain", "load", "end_to_end", "round_trip"):
            proc = subprocess.run([sys.executable, __file__, "--phase", phase, "--infra",
                                   str(infra), "--repeat", str(args.repeat)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{phase}: failed\n{proc.stderr}", flush=True)
                ok = False
                continue
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            if args.json:
                print(json.dumps(figures))
                continue
            line = (f"{phase:>13}: best {figures['best_s']:.3f} s (worst "
                    f"{figures['worst_s']:.3f} s), tracemalloc peak "
                    f"{figures['tracemalloc_peak_mb']} MB, RSS before "
                    f"{figures['rss_before_mb']} MB, peak RSS {figures['peak_rss_mb']} MB")
            if phase.startswith("compile"):
                goal = figures["best_s"] < 2.0 and figures["tracemalloc_peak_mb"] < 200
                line += (f"\n{'':>15}goal <2 s and <200 MB allocated: "
                         f"{'met' if goal else 'NOT met'}; {figures['summary']}")
            print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
