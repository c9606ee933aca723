"""Small things several test modules share."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.toml"
DATA = ROOT / "tests" / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> datetime:
    """A time in the example agreement's time zone."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def serve(db_url: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """`vmi-bot serve` on a free port as a real process, once it says it serves: the process
    and what it said on stderr so far (the last line names the address). The caller stops it."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("vmi-bot")), "--config", str(EXAMPLE),
         "--db", db_url, "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stderr is not None
    said: list[str] = []
    while not said or "serving on" not in said[-1]:
        said.append(process.stderr.readline())
        if not said[-1]:
            process.kill()
            raise AssertionError("the server did not start:\n" + "".join(said))
    return process, said
