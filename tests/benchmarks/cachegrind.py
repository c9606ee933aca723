"""Machine instructions of a Python command, counted under valgrind's cachegrind: the same
figure run after run, where CPU time moves with a shared machine's speed. The benchmarks'
`--instructions` runs use it."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence


def instructions(arguments: Sequence[str]) -> int:
    """Machine instructions of `python ARGUMENTS…` (this interpreter), start-up included."""
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, *arguments]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)") from None
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind said no instruction count:\n{done.stderr[-2000:]}")
    return int(found[1].replace(",", ""))
