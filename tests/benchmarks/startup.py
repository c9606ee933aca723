"""How long a command takes to start and answer, beside a bare `python -c pass`.

Run on demand (pytest does not collect it), from the repository root, with the project
installed in .venv:

    python tests/benchmarks/startup.py --runs 15

Each command runs `--runs` times as a fresh process (in a temporary folder, on a SQLite file
made once beforehand, so `status` meets a current schema as it does every day); it prints the
median and the best wall time of each, and whether the targets hold: `vmi-bot --help` ≤ 0.3 s
and `vmi-bot status` ≤ 1 s. Byte-code caching follows the environment (PYTHONDONTWRITEBYTECODE
is removed, as on a user's machine, after one warm-up run that writes the caches).

With `--agreements N` (and `--items M`, default 10) it also generates a configuration of N
agreements of M items each (as tests/benchmarks/review_scale.py does), makes the database with
a first start, and times `vmi-bot serve` from launch until it says it serves (configuration
checked, database checked, catalog synced, scheduler set up: target < 10 s at 10,000 x 10),
`vmi-bot status` and `vmi-bot status --json --agreement ID` of one agreement, printing the
median of `--runs` runs (3 is enough here) beside the CPU seconds of the process. `--db URL`
uses that database (PostgreSQL: it is reused as it is) instead of a SQLite file.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from review_scale import Size, agreement_id, config_text

ROOT = Path(__file__).resolve().parents[2]
VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
TARGETS = {"vmi-bot --help": 0.3, "vmi-bot status": 1.0}
MANY_TARGET = 10.0  # seconds for `serve` to start with 10,000 agreements x 10 items


def timed(command: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh runs of `command` (one untimed warm-up first)."""
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def children_cpu() -> float:
    """CPU seconds (user and system) of the child processes waited for so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def serve_until_serving(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds from launching `serve` until it says it serves; then it is stopped."""
    cpu = children_cpu()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    said: list[str] = []
    while not said or "serving on" not in said[-1]:
        said.append(process.stderr.readline())
        if not said[-1]:
            process.wait()
            raise SystemExit("serve did not start:\n" + "".join(said))
    seconds = time.perf_counter() - start
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    return seconds, children_cpu() - cpu


def many(args: argparse.Namespace, here: Path, env: dict[str, str]) -> None:
    """Start-up with `args.agreements` x `args.items`: serve, status, status of one agreement."""
    size = Size(args.agreements, args.items, 1)
    config = here / "many.toml"
    config.write_text(config_text(size), encoding="utf-8")
    db = args.db or f"sqlite:///{here / 'many.sqlite'}"
    common = [VMI_BOT, "--config", str(config), "--db", db]
    start = time.perf_counter()
    subprocess.run([*common, "status", "--agreement", agreement_id(0)], cwd=here, env=env,
                   capture_output=True, check=True)  # fmt: skip
    print(f"{args.agreements:,} agreements x {args.items} items; first start (database made): "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    serve = [*common, "serve", "--host", "127.0.0.1", "--port", "0"]
    runs = [serve_until_serving(serve, here, env) for _ in range(args.runs)]
    wall = statistics.median(r[0] for r in runs)
    met = "met" if wall < MANY_TARGET else "NOT met"
    cpu = statistics.median(r[1] for r in runs)
    print(f"  {'serve until serving':<26} {wall:6.2f} s median, {cpu:6.2f} s CPU"
          f"  target < {MANY_TARGET:g} s: {met}")  # fmt: skip
    for name, extra in {
        "status": ["status"],
        "status --json --agreement": ["status", "--json", "--agreement", agreement_id(0)],
    }.items():
        cpu = children_cpu()
        seconds = timed([*common, *extra], here, env, args.runs)
        used = (children_cpu() - cpu) / (args.runs + 1)  # the warm-up run counts too
        print(f"  {name:<26} {statistics.median(seconds):6.2f} s median, {used:6.2f} s CPU")


def main() -> None:
    """Time the commands and print a line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--agreements", type=int, default=0, help="also start with N agreements")
    parser.add_argument("--items", type=int, default=10, help="items per agreement (10)")
    parser.add_argument("--db", help="database URL for --agreements (default: a SQLite file)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("DATABASE_URL", None)
    env.pop("VMI_CONFIG", None)
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        if args.agreements:
            many(args, here, env)
            return
        config = str(ROOT / "config" / "example.toml")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "vmi-bot --help": [VMI_BOT, "--help"],
            "vmi-bot status": [VMI_BOT, "--config", config, "status"],
        }
        print(f"{os.cpu_count()} cores, {args.runs} runs each (median / best):")
        for name, command in commands.items():
            seconds = timed(command, here, env, args.runs)
            median, best = statistics.median(seconds), min(seconds)
            verdict = ""
            if name in TARGETS:
                met = "met" if median <= TARGETS[name] else "NOT met"
                verdict = f"  target ≤ {TARGETS[name]} s: {met}"
            print(f"  {name:<16} {median:6.3f} s / {best:6.3f} s{verdict}")


if __name__ == "__main__":
    main()
