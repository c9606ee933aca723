"""The ledger day by day: what was on hand at the start, at its lowest and at the end of each
day, and what came in and went out. The month's review and its chart read these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from vmi_rules.ledger import Movement, apply


@dataclass(frozen=True)
class DayStock:
    """One calendar day of one item's stock."""

    day: date
    opening: int
    low: int  # the lowest level the day saw (0 or less: a stock-out that day)
    closing: int
    withdrawn: int
    received: int
    known: bool = True  # the ledger had begun: before its first row the level is not known

    @property
    def stocked_out(self) -> bool:
        """True when on hand was 0 (or below, a gap in the counts) at some time that day."""
        return self.known and self.low <= 0


def day_starts(start: datetime, end: datetime) -> list[datetime]:
    """The local midnights from `start` up to `end`, on `start`'s clock (`start` is a midnight)."""
    zone = start.tzinfo
    first = start.date()
    count = (end.astimezone(zone).date() - first).days
    return [
        datetime.combine(first + timedelta(days=k), start.timetz()).replace(tzinfo=zone)
        for k in range(count)
    ]


def daily_stock(movements: Iterable[Movement], start: datetime, end: datetime) -> list[DayStock]:
    """Each day of [start, end), `start` a local midnight, from the ledger (the level before
    `start` carries in). A back-dated row counts on its day: rows are read in time order,
    ledger order within the same time."""
    days = day_starts(start, end)
    zone = start.tzinfo
    level, known = 0, False
    by_day: dict[date, list[Movement]] = {}
    for movement in sorted((m for m in movements if m.at < end), key=lambda m: m.at):
        if movement.at < start:
            level, known = apply(level, movement), True
        else:
            by_day.setdefault(movement.at.astimezone(zone).date(), []).append(movement)
    out = []
    for midnight in days:
        opening = level
        low: int | None = level if known else None
        withdrawn = received = 0
        for movement in by_day.get(midnight.date(), []):
            level, known = apply(level, movement), True
            low = level if low is None else min(low, level)
            if movement.kind == "withdrawal":
                withdrawn += movement.qty
            elif movement.kind == "receipt":
                received += movement.qty
        out.append(
            DayStock(midnight.date(), opening, level if low is None else low, level,
                     withdrawn, received, known)
        )  # fmt: skip
    return out


def daily_withdrawals(movements: Iterable[Movement], start: datetime, end: datetime) -> list[int]:
    """The quantity withdrawn on each day of [start, end) (0 on a day with none)."""
    return [day.withdrawn for day in daily_stock(movements, start, end)]
