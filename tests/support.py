"""Small things several test modules share."""

from __future__ import annotations

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
