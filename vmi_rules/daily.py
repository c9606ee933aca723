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
    # on hand stood at 0 or below that day, other than as a return of overstock left it
    ran_out: bool = False

    @property
    def stocked_out(self) -> bool:
        """True when on hand was 0 (or below, a gap in the counts) at some time that day, unless
        it was a return (overstock sent back) that emptied the shelf and nothing moved since."""
        return self.known and self.ran_out


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
    level, known, returned = 0, False, False
    by_day: dict[date, list[Movement]] = {}
    for movement in sorted((m for m in movements if m.at < end), key=lambda m: m.at):
        if movement.at < start:
            level, returned = step_emptied(level, returned, movement)
            known = True
        else:
            by_day.setdefault(movement.at.astimezone(zone).date(), []).append(movement)
    out = []
    for midnight in days:
        opening = level
        low: int | None = level if known else None
        ran_out = known and level <= 0 and not returned
        withdrawn = received = 0
        for movement in by_day.get(midnight.date(), []):
            level, returned = step_emptied(level, returned, movement)
            known = True
            low = level if low is None else min(low, level)
            ran_out = ran_out or (level <= 0 and not returned)
            if movement.kind == "withdrawal":
                withdrawn += movement.qty
            elif movement.kind == "receipt":
                received += movement.qty
        out.append(
            DayStock(midnight.date(), opening, level if low is None else low, level,
                     withdrawn, received, known, ran_out)
        )  # fmt: skip
    return out


def step_emptied(level: int, returned: bool, movement: Movement) -> tuple[int, bool]:
    """The level after `movement`, and whether an empty shelf is one a return left (given
    whether it was before): a return
    that empties it is not a stock-out, and stays not one until the level moves again."""
    after = apply(level, movement)
    if after > 0:
        return after, False
    return after, movement.kind == "return" or (returned and after == level)


def daily_withdrawals(movements: Iterable[Movement], start: datetime, end: datetime) -> list[int]:
    """The quantity withdrawn on each day of [start, end) (0 on a day with none)."""
    return [day.withdrawn for day in daily_stock(movements, start, end)]
