"""The overstock joint review (积压, rule 9): which lots are aged, when an alert is due, and
what may still be chosen on one.

An alert covers the aged lots up to the newest one it saw (`covers_until`, that lot's date):
the same units are not alerted again, except once when nobody answered within a week (or a
week after someone chose to keep watching). A later lot crossing the age raises a new alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, get_args

from vmi_rules.aging import Lot, lots
from vmi_rules.ledger import Movement

Choice = Literal["return", "discount", "keep"]  # 退货 · 折价 · 继续观察
CHOICES: tuple[Choice, ...] = get_args(Choice)
REMIND_AFTER = timedelta(days=7)  # an alert nobody answered is raised again, once, after this


@dataclass(frozen=True)
class AgedStock:
    """The lots on the shelf for `overstock_days` or more: how many units, and the dates of the
    oldest and the newest of those lots."""

    qty: int
    oldest: datetime
    newest: datetime

    def age_days(self, now: datetime) -> int:
        """Whole days the oldest aged lot has been on the shelf."""
        return (now - self.oldest).days


def aged_lots(shelf: Iterable[Lot], now: datetime, overstock_days: int) -> list[Lot]:
    """The lots that have been on hand for `overstock_days` days or more, oldest first."""
    limit = timedelta(days=overstock_days)
    return [lot for lot in shelf if now - lot.since >= limit]


def aged_stock(
    movements: Iterable[Movement], now: datetime, overstock_days: int
) -> AgedStock | None:
    """The aged units by first in, first out, or None when no unit is aged."""
    aged = aged_lots(lots(movements), now, overstock_days)
    if not aged:
        return None
    return AgedStock(sum(lot.qty for lot in aged), aged[0].since, aged[-1].since)


@dataclass(frozen=True)
class PastAlert:
    """The item's latest alert as stored: what it covered, when it was raised (and raised
    again), and the choice made on it."""

    covers_until: datetime
    raised_at: datetime
    repeated_at: datetime | None = None
    choice: Choice | None = None
    decided_at: datetime | None = None


Due = Literal["new", "again"]


def alert_due(
    aged: AgedStock | None, on_hand: int, item_max: int, last: PastAlert | None, now: datetime
) -> Due | None:
    """Whether an alert is due now: "new" for aged units no alert covered yet, "again" for the
    one reminder of an alert left unanswered (or kept watching) for REMIND_AFTER; else None.

    Nothing is due while on hand is at or below max, or no unit is aged.
    """
    if aged is None or on_hand <= item_max:
        return None
    if last is None or aged.newest > last.covers_until:
        return "new"
    if last.repeated_at is not None:
        return None  # raised again once already: never a third time
    if last.choice is None:
        waited_since = last.raised_at
    elif last.choice == "keep" and last.decided_at is not None:
        waited_since = last.decided_at
    else:
        return None  # returned or discounted: settled
    return "again" if now - waited_since >= REMIND_AFTER else None


def may_choose(last: PastAlert) -> bool:
    """A choice can be made on an alert nobody decided yet, or on one kept watching and since
    raised again; otherwise it is already decided."""
    if last.choice is None:
        return True
    return (
        last.choice == "keep"
        and last.repeated_at is not None
        and last.decided_at is not None
        and last.repeated_at > last.decided_at
    )


def suggested_return(aged_qty: int, on_hand: int, item_max: int) -> int:
    """What the alert's return button offers: the aged units above max (back down to max)."""
    return max(0, min(aged_qty, on_hand - item_max))


ReturnRefusal = Literal["nothing_aged", "over_aged"]


def check_return(qty: int, aged_qty: int) -> ReturnRefusal | None:
    """Why `qty` units cannot go back, or None: only aged units are returned through a review."""
    if aged_qty <= 0:
        return "nothing_aged"
    if qty > aged_qty:
        return "over_aged"
    return None


def check_discount(price: Decimal, unit_price: Decimal) -> bool:
    """A discount price is above zero and below the agreed unit price."""
    return Decimal(0) < price < unit_price


def value(qty: int, unit_price: Decimal) -> Decimal:
    """What `qty` units are worth at `unit_price`, to the cent."""
    return (unit_price * qty).quantize(Decimal("0.01"))
