"""Plan periods: a calendar month ("2026-12") or an ISO week ("2026-W49")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-[Ww](\d{2})")


@dataclass(frozen=True)
class Period:
    """A span of whole days, `start` included and `end` excluded."""

    label: str
    start: date
    end: date

    @property
    def days(self) -> int:
        """How many calendar days the period has."""
        return (self.end - self.start).days

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end


def parse_period(text: str) -> Period:
    """A period from its label: a month "YYYY-MM" or an ISO week "YYYY-Www".

    Raises ValueError, saying what is expected, for anything else.
    """
    cleaned = text.strip()
    if match := _MONTH.fullmatch(cleaned):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: month {month} is not 01..12")
        try:
            return month_of(date(year, month, 1))
        except ValueError:
            raise ValueError(f"{text!r}: year {year} is out of range") from None
    if match := _WEEK.fullmatch(cleaned):
        year, week = int(match[1]), int(match[2])
        try:
            return week_of(date.fromisocalendar(year, week, 1))
        except (ValueError, OverflowError):
            raise ValueError(f"{text!r}: {year} has no ISO week {week}") from None
    raise ValueError(
        f"{text!r} is not a period: expected a month YYYY-MM (e.g. 2026-12) "
        "or an ISO week YYYY-Www (e.g. 2026-W49)"
    )


def month_of(day: date) -> Period:
    """The calendar month that holds this day."""
    start = day.replace(day=1)
    end = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    return Period(label=f"{start.year:04d}-{start.month:02d}", start=start, end=end)


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday) that holds this day."""
    iso = day.isocalendar()
    start = day - timedelta(days=iso.weekday - 1)
    end = start + timedelta(days=7)
    return Period(label=f"{iso.year:04d}-W{iso.week:02d}", start=start, end=end)


def next_month(day: date) -> Period:
    """The month after the one holding this day ("下月")."""
    return month_of(month_of(day).end)


def next_week(day: date) -> Period:
    """The ISO week after the one holding this day ("下周")."""
    return week_of(week_of(day).end)
