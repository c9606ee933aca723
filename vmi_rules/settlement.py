"""Monthly settlement (结算, rules 6 and 10): consignment stock is billed on withdrawals only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from vmi_rules.ledger import Movement

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Settlement:
    """A statement: the units withdrawn in [start, end) and what they cost."""

    start: datetime
    end: datetime
    qty: int
    unit_price: Decimal
    amount: Decimal


def settlement_period(now: datetime, settlement_day: int) -> tuple[datetime, datetime]:
    """The period that closed at the latest cutoff at or before `now`: (previous, latest cutoff).

    A cutoff is 00:00 on `settlement_day` (1..28, so every month has it) in `now`'s time zone.
    """
    if not 1 <= settlement_day <= 28:
        raise ValueError(f"settlement day must be 1..28, got {settlement_day}")
    latest = _cutoff(now.year, now.month, settlement_day, now)
    if latest > now:
        latest = _month_before(latest)
    return _month_before(latest), latest


def settle(
    movements: Iterable[Movement], start: datetime, end: datetime, unit_price: Decimal
) -> Settlement:
    """Bill the withdrawals in [start, end) at the unit price; receipts create no payable."""
    qty = sum(m.qty for m in movements if m.kind == "withdrawal" and start <= m.at < end)
    amount = (qty * unit_price).quantize(_CENT, rounding=ROUND_HALF_UP)
    return Settlement(start=start, end=end, qty=qty, unit_price=unit_price, amount=amount)


def _cutoff(year: int, month: int, day: int, like: datetime) -> datetime:
    """00:00 on that day, on the same clock as `like`."""
    return datetime(year, month, day, tzinfo=like.tzinfo)


def _month_before(cutoff: datetime) -> datetime:
    """The same cutoff one month earlier."""
    if cutoff.month == 1:
        return _cutoff(cutoff.year - 1, 12, cutoff.day, cutoff)
    return _cutoff(cutoff.year, cutoff.month - 1, cutoff.day, cutoff)
