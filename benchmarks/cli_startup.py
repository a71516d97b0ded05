"""Wall time of `bright-eval --help` / `bright-eval run --help` against a bare `python -c pass`.

The help screens are what a user waits on most often, so their start-up cost is tracked here.
The machine may be shared, so every figure comes with the load average and a `python -c pass`
baseline measured in the same run; compare the differences, not the absolute numbers.

    python benchmarks/cli_startup.py [-n 10] [--out startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m bright_eval.cli`."""
    here = Path(sys.executable).parent
    for name in ("bright-eval", "bright-eval.exe"):
        if (here / name).exists():
            return [str(here / name)]
    found = shutil.which("bright-eval")
    if found and Path(found).parent == here:
        return [found]
    return [sys.executable, "-m", "bright_eval.cli"]


def time_runs(cmd: list[str], n: int) -> list[float]:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # warm the file cache
    walls = []
    for _ in range(n):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
    return walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=10, help="Timed runs per command (median reported).")
    ap.add_argument("--out", type=Path, help="Also write the figures to this JSON file.")
    args = ap.parse_args()

    cli = cli_command()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "bright-eval --help": [*cli, "--help"],
        "bright-eval run --help": [*cli, "run", "--help"],
    }
    load_before = os.getloadavg()
    results = {}
    for label, cmd in cases.items():
        walls = time_runs(cmd, args.runs)
        results[label] = {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls), "runs": args.runs}
    load_after = os.getloadavg()

    base = results["python -c pass"]["median_s"]
    print(f"cli: {' '.join(cli)}")
    print(f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; CPUs: {os.cpu_count()}")
    for label, r in results.items():
        extra = "" if label == "python -c pass" else f"  (+{r['median_s'] - base:.3f} s over python)"
        print(f"{label:<26} median {r['median_s']:.3f} s  [min {r['min_s']:.3f}, max {r['max_s']:.3f}, n={r['runs']}]{extra}")
    if args.out:
        args.out.write_text(json.dumps({"cli": cli, "loadavg_before": load_before, "loadavg_after": load_after,
                                        "cpus": os.cpu_count(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
