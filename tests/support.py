"""Small things several test modules share."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from waitress.server import BaseWSGIServer, MultiSocketServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.toml"
DATA = ROOT / "tests" / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> datetime:
    """A time in the example agreement's time zone."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a process started now. Under Debian's faketime ("@2027-12-31 20:30:00") every
    process starts its clock at that moment, so a child started minutes into the run would lag
    this one by as much (and Slack's 5-minute signature window would refuse what we sign): it
    starts where this process's clock is now."""
    if env.get("FAKETIME", "").startswith("@"):
        return {**env, "FAKETIME": time.strftime("@%Y-%m-%d %H:%M:%S")}
    return env


def serve(db_url: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """`vmi-bot serve` on a free port as a real process, once it says it serves: the process
    and what it said on stderr so far (the last line names the address). The caller stops it."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("vmi-bot")), "--config", str(EXAMPLE),
         "--db", db_url, "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=child_env(env),
    )  # fmt: skip
    assert process.stderr is not None
    said: list[str] = []
    while not said or "serving on" not in said[-1]:
        said.append(process.stderr.readline())
        if not said[-1]:
            process.kill()
            raise AssertionError("the server did not start:\n" + "".join(said))
    return process, said


def in_thread(server: BaseWSGIServer | MultiSocketServer) -> threading.Thread:
    """A waitress server running in a daemon thread until `server.close()`, as `vmi-bot serve`
    runs it: closing it while its loop waits in select() ends the loop with a bad file
    descriptor, which is how it stops, not an error."""

    def run() -> None:
        with suppress(OSError):  # closed under select(): stopped
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
