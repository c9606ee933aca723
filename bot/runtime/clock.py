"""The one place a command takes the time from: the real clock, or one that starts at `--now`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def aware(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` with a time zone: a time typed without an offset is read in `zone`."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def clock_from(start: datetime | None, zone: tzinfo) -> Clock:
    """The real clock, or one that reads `start` first and runs on from there at real speed."""
    if start is None:
        return real_clock
    offset = aware(start, zone) - real_clock()
    return lambda: real_clock() + offset
