#!/usr/bin/env python3
"""The build a user runs, timed as they would: ``occo build`` from process start to the
final table, with no configuration file, side by side with the same build tuned.

The three-tier infrastructure of bench_build.py (1 db, N app, 1 lb on the dummy cloud,
1 s create latency, critical path 3 s). For each N, alternately:

- ``default``: ``occo build infra.yaml`` with empty XDG directories: no occo.yaml, the
  state and the dummy cloud in SQLite files under the data directory, every limit the
  dummy cloud's own;
- ``tuned``: the same with ``--config`` of bench_build.py's tuned processing settings
  (limits above N, polling every 0.05 s, first look after 0.02 s).

Each run is a fresh process and fresh directories; ``--repeat`` runs each that many
times and reports the median. Run it with the ``occo`` of an installed environment (the
wheels, as operators install them; an editable install adds its import hooks)::

    python3 tools/bench/bench_default_path.py --occo env/test/occo-api/bin/occo
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import LATENCY, LEVELS, write_description  # noqa: E402


def tuned_config(n: int) -> str:
    return (f"processing: {{max_parallel: {n + 10}, rate: 0, batch_size: 256, "
            f"poll_interval: 0.05, first_poll: 0.02}}\n")


def one_build(occo: str, n: int, tuned: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        infra = write_description(root, n)
        env = {**os.environ, "XDG_DATA_HOME": str(root / "data"),
               "XDG_CONFIG_HOME": str(root / "config")}
        args = [occo]
        if tuned:
            (root / "tuned.yaml").write_text(tuned_config(n))
            args += ["--config", str(root / "tuned.yaml")]
        args += ["build", str(infra)]
        start = time.monotonic()
        proc = subprocess.run(args, env=env, cwd=root, capture_output=True, text=True,
                              timeout=600)
        wall = time.monotonic() - start
        if proc.returncode != 0 or "(ready)" not in proc.stdout:
            raise SystemExit(f"N={n} {'tuned' if tuned else 'default'} failed "
                             f"({proc.returncode}):\n{proc.stderr[-2000:]}")
        return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--occo", default="occo", help="the occo command to time")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    critical = LATENCY * LEVELS
    print(f"occo build end to end (process start to final table), three-tier on the "
          f"dummy cloud, critical path {critical:g} s, median of {args.repeat}")
    print(f"{'N':>6} {'default s':>10} {'x crit':>7} {'tuned s':>8} {'x crit':>7} "
          f"{'default/tuned':>14}")
    for n in args.sizes:
        walls: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):
            for tuned in (False, True):       # interleaved: the machine's drift hits both
                walls[tuned].append(one_build(args.occo, n, tuned))
        default, tuned = (statistics.median(walls[k]) for k in (False, True))
        print(f"{n:>6} {default:>10.2f} {default / critical:>7.2f} {tuned:>8.2f} "
              f"{tuned / critical:>7.2f} {default / tuned:>14.2f}", flush=True)


if __name__ == "__main__":
    main()
