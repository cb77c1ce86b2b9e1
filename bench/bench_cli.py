"""Benchmark the CLI's start-up, as a user feels it (issue 18).

1. ``reconciler --help`` against ``python -c pass``, measured in the same run (interleaved, so
   both see the same machine load). Target: <= 10x.
2. ``reconciler validate specs/retail-adtech``. Target: <= 0.6 s.

Each figure is the best of N wall-clock runs of a fresh process (the noise of a shared machine
only ever adds time); the goals are judged on wall-clock time. The child's CPU time (user +
system) is printed beside it: on a loaded machine it is the steadier of the two. One warm-up
run first writes the bytecode caches, as any installed package has them
(``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment: with it, every start
compiles the package's sources again, which no user's install does).

Run: ``python3 bench/bench_cli.py [--repeat 10] [--checkout DIR]``; ``--checkout`` times another
checkout's code (``python -m reconciler`` with it first on ``PYTHONPATH``), e.g. main's, against
the same ``python -c pass``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELP_RATIO_GOAL = 10.0
VALIDATE_GOAL_S = 0.6


def reconciler_command() -> list[str]:
    """The installed console script next to this Python, else ``python -m reconciler``."""
    script = Path(sys.executable).with_name("reconciler")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "reconciler"]


def run_once(argv: Sequence[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the child: user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command (the best counts)")
    parser.add_argument("--checkout", type=Path, help="time this checkout's code instead of this one's")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cli, cwd = reconciler_command(), ROOT
    if args.checkout is not None:
        cwd = args.checkout.resolve()
        env["PYTHONPATH"] = str(cwd)
        cli = [sys.executable, "-m", "reconciler"]
        print(f"code: {cwd}")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "reconciler --help": [*cli, "--help"],
        "reconciler validate specs/retail-adtech": [*cli, "validate", "specs/retail-adtech"],
    }
    for argv in commands.values():  # warm-up: bytecode caches, the OS's file cache
        run_once(argv, env, cwd)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, argv in commands.items():
            times[name].append(run_once(argv, env, cwd))
    best = {name: min(wall for wall, _ in found) for name, found in times.items()}
    cpu = {name: min(c for _, c in found) for name, found in times.items()}
    base, help_s, validate_s = best.values()
    ratio = help_s / base
    print(f"{'command':42} {'best wall':>10} {'best CPU':>10}  (of {args.repeat} runs, in one run)")
    for name, seconds in best.items():
        print(f"{name:42} {seconds * 1000:7.1f} ms {cpu[name] * 1000:7.1f} ms")
    print(
        f"--help / python -c pass:                   {ratio:8.2f}x  (target <= {HELP_RATIO_GOAL:g}x)"
        f" {'OK' if ratio <= HELP_RATIO_GOAL else 'OVER'}"
    )
    print(
        f"validate specs/retail-adtech:              {validate_s:8.3f} s  (target <= {VALIDATE_GOAL_S} s)"
        f" {'OK' if validate_s <= VALIDATE_GOAL_S else 'OVER'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
