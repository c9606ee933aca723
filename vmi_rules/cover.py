"""Days of cover: how many days the stock on hand lasts at the recent pace of withdrawals.
The supplier's overview sorts every customer's items by it, the shortest first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmi_rules.ledger import Movement

COVER_WINDOW_DAYS = 30  # the pace is the average daily withdrawal of the last 30 days


def daily_withdrawal(
    movements: Iterable[Movement], now: datetime, days: int = COVER_WINDOW_DAYS
) -> float:
    """The average daily withdrawal over the `days` before `now` (0.0 when none)."""
    since = now - timedelta(days=days)
    total = sum(m.qty for m in movements if m.kind == "withdrawal" and since <= m.at <= now)
    return total / days


def days_of_cover(on_hand: int, per_day: float) -> float | None:
    """On hand ÷ the average daily withdrawal; None when nothing is withdrawn (no pace to
    divide by), 0 when nothing is on hand."""
    if per_day <= 0:
        return None
    return max(on_hand, 0) / per_day


@dataclass(frozen=True)
class Covered:
    """Something with its days of cover, to sort by."""

    key: tuple[str, str]  # (agreement id, sku)
    cover: float | None


def by_cover(lines: Sequence[Covered]) -> list[Covered]:
    """The shortest cover first; those without withdrawals (no cover figure) last, in the
    order given."""
    return sorted(lines, key=lambda c: (c.cover is None, c.cover or 0.0))
