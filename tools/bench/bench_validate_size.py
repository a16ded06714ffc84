#!/usr/bin/env python3
"""Benchmark: time and memory of validating a description, against its size in bytes.

Goal (issue 16): ``occo validate`` stays roughly linear in the input's bytes; a 16 MiB
description of many small keys takes seconds and hundreds of MiB, not minutes and
gigabytes.

Run it with a Python that has the OCCO packages installed::

    env/dev/bin/python tools/bench/bench_validate_size.py [--sizes 1,4,16] [--shapes ...]
        [--tracemalloc] [--json]

For each shape and size (MiB) it writes a description of about that many bytes to a
temporary directory and compiles it (``compile_infrastructure(path)``, what ``occo
validate`` does after reading its configuration) in a fresh child process, so that the
peak RSS (ru_maxrss) belongs to that case alone. The shapes, all of small keys:

- ``mappings``: ``variables`` holding hundreds of thousands of tiny mappings;
- ``flat``: ``variables`` as one huge flat mapping of short keys;
- ``lists``: ``variables`` holding long lists of short strings;
- ``nodes``: many nodes of a few keys each (the compiler's per-node work);
- ``merged``: large shared ``variables`` and many nodes with variables of their own, each
  merged over the shared ones (quadratic if unbounded; always run with the default
  limits, which refuse it: a located error, measured).

The loader's limit of 5,000,000 values (with aliases expanded) is raised for the run, as
16 MiB of tiny values can exceed it; ``--default-limits`` keeps it. With ``--tracemalloc``
it also reports the tracemalloc peak (Python allocations; this
makes the run two to three times slower, so the times of that run are not comparable).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024
DEFINITIONS = "'node_def:t':\n  - resource: {type: dummy}\n"
SHAPES = ("mappings", "flat", "lists", "nodes", "merged")


def _lines(shape: str, size: int):
    """Lines of a description of ``shape`` until about ``size`` bytes."""
    yield "infra_name: bench"
    if shape == "nodes":
        yield "nodes:"
        i = 0
        while True:
            yield f"  - {{name: n{i}, type: t, scaling: {{min: 0, max: 1}}}}"
            i += 1
    if shape == "merged":
        yield "variables:"
        for i in range(size // 30):
            yield f"  shared{i}: v{i}"
        yield "nodes:"
        i = 0
        while True:
            yield f"  - {{name: n{i}, type: t, variables: {{own: {i}}}}}"
            i += 1
    yield "nodes:\n  - {name: a, type: t}"
    yield "variables:"
    i = 0
    while True:
        if shape == "mappings":
            yield f"  k{i}: {{a: 1, b: x}}"
        elif shape == "flat":
            yield f"  key{i}: v{i}"
        else:
            yield f"  list{i}:"
            for j in range(1000):
                yield f"    - item{j}"
        i += 1


def generate(directory: Path, shape: str, size: int) -> Path:
    (directory / "nodes").mkdir(parents=True, exist_ok=True)
    (directory / "nodes" / "node_definitions.yaml").write_text(DEFINITIONS)
    path = directory / "infra.yaml"
    written = 0
    with path.open("w") as out:
        for line in _lines(shape, size):
            if written + len(line) + 1 > size:
                break
            out.write(line + "\n")
            written += len(line) + 1
    return path


def _child(path: str, trace: bool, default_limits: bool) -> None:
    """Compile ``path`` and print the figures as JSON (runs in its own process)."""
    import tracemalloc

    from occo.compiler import CompileErrors, compile_infrastructure
    from occo.util import YamlLimits

    # a real description never has so much; here the sizes are the point of the test
    limits = None if default_limits else YamlLimits(max_expanded_nodes=10**9)
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        compile_infrastructure(path, yaml_limits=limits)
        outcome = "ok"
    except CompileErrors as exc:
        outcome = str(exc).splitlines()[1].strip()[:200]
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / MIB if trace else None
    print(json.dumps({"seconds": round(seconds, 2), "tracemalloc_mib": peak and round(peak),
                      "peak_rss_mib": round(_peak_rss()), "outcome": outcome}))


def _peak_rss() -> float:
    """This process's peak RSS in MiB: VmHWM, which exec resets (ru_maxrss keeps the
    forking parent's peak on Linux), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, trace: bool, default_limits: bool, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path)] + (["--tracemalloc"] if trace else [])
    cmd += ["--default-limits"] if default_limits else []
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "outcome": f"more than {timeout:g} s"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,4,16", help="MiB, comma-separated")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--default-limits", action="store_true",
                        help="keep the loader's limit of 5,000,000 values (the largest "
                             "sizes are then refused, which is measured too)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.tracemalloc, args.default_limits)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            for mib in (float(s) for s in args.sizes.split(",")):
                directory = Path(tmp) / f"{shape}-{mib:g}"
                path = generate(directory, shape, int(mib * MIB))
                row = {"shape": shape, "bytes": path.stat().st_size,
                       **measure(path, args.tracemalloc,
                                 args.default_limits or shape == "merged", args.timeout)}
                rows.append(row)
                if not args.json:
                    print(f"{shape:9} {row['bytes'] / MIB:6.1f} MiB  {row['seconds']} s  "
                          f"peak RSS {row.get('peak_rss_mib')} MiB  tracemalloc "
                          f"{row.get('tracemalloc_mib')} MiB  {row['outcome']}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
