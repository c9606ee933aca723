"""How long a command takes to start and answer, beside a bare `python -c pass`.

Run on demand (pytest does not collect it), from the repository root, with the project
installed in .venv:

    python tests/benchmarks/startup.py --runs 15

Each command runs `--runs` times as a fresh process (in a temporary folder, on a SQLite file
made once beforehand, so `status` meets a current schema as it does every day); it prints the
median and the best wall time of each, and whether the targets hold: `vmi-bot --help` ≤ 0.3 s
and `vmi-bot status` ≤ 1 s. Byte-code caching follows the environment (PYTHONDONTWRITEBYTECODE
is removed, as on a user's machine, after one warm-up run that writes the caches).
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

ROOT = Path(__file__).resolve().parents[2]
VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
TARGETS = {"vmi-bot --help": 0.3, "vmi-bot status": 1.0}


def timed(command: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh runs of `command` (one untimed warm-up first)."""
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Time the commands and print a line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("DATABASE_URL", None)
    env.pop("VMI_CONFIG", None)
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
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
