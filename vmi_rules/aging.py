"""Stock aging (rule 9): first in, first out, and the overstock alert (积压)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmi_rules.ledger import Movement
from vmi_rules.terms import Item


@dataclass(frozen=True)
class Lot:
    """Units that came in together and have been on the shelf since then."""

    since: datetime
    qty: int


def lots(movements: Iterable[Movement]) -> list[Lot]:
    """The lots on hand, oldest first, by first in, first out.

    Receipts add a lot; withdrawals and returns take from the oldest lots first; an adjustment
    adds a lot (positive) or takes from the oldest (negative). A count sets the level: the first
    count is one lot dated at the count (what was there before is unknown); a later count above
    the lots adds the difference as a lot dated at the count, below them takes it from the
    oldest.
    """
    shelf: deque[Lot] = deque()
    counted = False
    for movement in movements:
        if movement.kind == "count":
            if not counted:
                shelf.clear()
                _add(shelf, movement.at, movement.qty)
                counted = True
            else:
                difference = movement.qty - sum(lot.qty for lot in shelf)
                _add(shelf, movement.at, difference)
                _take(shelf, -difference)
        elif movement.kind == "receipt":
            _add(shelf, movement.at, movement.qty)
        elif movement.kind in ("withdrawal", "return"):
            _take(shelf, movement.qty)
        else:
            _add(shelf, movement.at, movement.qty)
            _take(shelf, -movement.qty)
    return list(shelf)


def aged_qty(movements: Iterable[Movement], now: datetime, overstock_days: int) -> int:
    """Units that have been on hand for `overstock_days` days or more (seed: 30)."""
    limit = timedelta(days=overstock_days)
    return sum(lot.qty for lot in lots(movements) if now - lot.since >= limit)


def overstock(on_hand: int, item: Item, aged: int) -> bool:
    """On hand above max while some units are aged: both sides review it together."""
    return on_hand > item.max and aged > 0


def _add(shelf: deque[Lot], since: datetime, qty: int) -> None:
    """Put a new lot on the shelf (nothing for a quantity of zero or less)."""
    if qty > 0:
        shelf.append(Lot(since=since, qty=qty))


def _take(shelf: deque[Lot], qty: int) -> None:
    """Take units from the oldest lots; more than the shelf holds empties it."""
    while qty > 0 and shelf:
        oldest = shelf.popleft()
        if oldest.qty > qty:
            shelf.appendleft(Lot(since=oldest.since, qty=oldest.qty - qty))
            return
        qty -= oldest.qty
