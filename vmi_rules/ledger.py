"""The stock ledger (库存台账): every movement is a row, on hand is derived from the rows.

Nothing is overwritten: a correction is a new row (an adjustment, or a new count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

# a return (退货) sends units back to the supplier: it lowers on hand, oldest units first, and
# is never billed as a withdrawal
MovementKind = Literal["count", "receipt", "withdrawal", "adjustment", "return"]
MOVEMENT_KINDS: tuple[MovementKind, ...] = get_args(MovementKind)


@dataclass(frozen=True)
class Movement:
    """One ledger row.

    `qty` means, by kind: count, the counted level; receipt, withdrawal and return, a quantity
    (not negative); adjustment, a signed change.
    """

    kind: MovementKind
    qty: int
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in MOVEMENT_KINDS:
            raise ValueError(f"unknown movement kind {self.kind!r}, expected {MOVEMENT_KINDS}")
        if self.kind != "adjustment" and self.qty < 0:
            raise ValueError(f"a {self.kind} cannot be negative ({self.qty}): use an adjustment")
        # a naive time would silently compare against the wrong cutoffs later
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"movement time must be timezone-aware, got {self.at.isoformat()}")


def on_hand(movements: Iterable[Movement]) -> int:
    """Stock on hand: the latest count, plus receipts, minus withdrawals and returns, plus
    adjustments since.

    Movements are read in ledger order (the order they were recorded). With no count at all the
    ledger starts from 0.
    """
    level = 0
    for movement in movements:
        level = apply(level, movement)
    return level


def apply(level: int, movement: Movement) -> int:
    """The level after one movement: a count replaces it, the other kinds move it."""
    if movement.kind == "count":
        return movement.qty
    if movement.kind == "receipt":
        return level + movement.qty
    if movement.kind in ("withdrawal", "return"):
        return level - movement.qty
    return level + movement.qty


def book_before_count(movements: Iterable[Movement]) -> int | None:
    """What the ledger says now, or None when it holds no count yet (so nothing can be inferred).

    Pass the rows recorded before the new count; the result is the `book_on_hand` of
    `infer_from_count`.
    """
    rows = list(movements)
    if not any(m.kind == "count" for m in rows):
        return None
    return on_hand(rows)


@dataclass(frozen=True)
class CountOutcome:
    """What a new count tells about the time since the previous one."""

    withdrawn: int
    gain: int

    @property
    def anomaly(self) -> bool:
        """The count rose with no receipt to explain it: record it, flag it, invent nothing."""
        return self.gain > 0


def infer_from_count(book_on_hand: int | None, counted: int) -> CountOutcome:
    """Withdrawals inferred from a count: previous count + receipts - new count (rule 7).

    `book_on_hand` is what the ledger says just before this count, None when there was no
    earlier count (then nothing is inferred). A count above the book is a gain (an anomaly),
    never a negative withdrawal.
    """
    if book_on_hand is None:
        return CountOutcome(withdrawn=0, gain=0)
    missing = book_on_hand - counted
    return CountOutcome(withdrawn=max(missing, 0), gain=max(-missing, 0))


def looks_mistyped(book_on_hand: int | None, counted: int, item_max: int) -> str | None:
    """Why a count looks like a typo and is held until the keeper confirms it, or None.

    "drop": it would bill more than half of the book as withdrawn (90 → 9); "far_above_max":
    it is more than twice max (100 → 1,000), so the next real count would bill the difference.
    A count of 0 is a stock-out, never held: it must be heard at once.
    """
    if counted == 0:
        return None
    if book_on_hand is not None and (book_on_hand - counted) * 2 > book_on_hand:
        return "drop"
    if item_max > 0 and counted > 2 * item_max:
        return "far_above_max"
    return None
