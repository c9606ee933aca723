"""Monthly settlement (结算, rules 6 and 10): consignment stock is billed on withdrawals only,
and the statement both sides sign (DESIGN §7): draft → confirmed by the buyer and by the
supplier, in either order → locked; a dispute sends it back for a correction and a re-issue."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, Literal

from vmi_rules.ledger import Movement

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Settlement:
    """A statement's line: the units withdrawn in [start, end) and what they cost; the first
    `discounted_qty` of them at the discounted prices, the rest at `unit_price`."""

    start: datetime
    end: datetime
    qty: int
    unit_price: Decimal
    amount: Decimal
    discounted_qty: int = 0


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


def withdrawn(movements: Iterable[Movement], start: datetime, end: datetime) -> int:
    """The units withdrawn in [start, end), by the date of the movement (rule 10)."""
    return sum(m.qty for m in movements if m.kind == "withdrawal" and start <= m.at < end)


def settle(
    movements: Iterable[Movement],
    start: datetime,
    end: datetime,
    unit_price: Decimal,
    discounts: Sequence[tuple[int, Decimal]] = (),
) -> Settlement:
    """Bill the withdrawals in [start, end) at the unit price; receipts create no payable.

    `discounts` are price breaks in order: (n, price) bills the next n units withdrawn in the
    period at `price` (units agreed at a discount, as an overstock decision may give).
    """
    qty = withdrawn(movements, start, end)
    left, amount, discounted = qty, Decimal(0), 0
    for units, price in discounts:
        if units < 0:
            raise ValueError(f"a discount covers a number of units, got {units}")
        take = min(units, left)
        amount += take * price
        discounted += take
        left -= take
    amount += left * unit_price
    return Settlement(
        start=start,
        end=end,
        qty=qty,
        unit_price=unit_price,
        amount=cents(amount),
        discounted_qty=discounted,
    )


def discounts_left(
    agreed: Sequence[tuple[int, Decimal, datetime]],
    movements: Iterable[Movement],
    start: datetime,
) -> list[tuple[int, Decimal]]:
    """The discounted units not yet billed when the period opens at `start`, as price breaks
    for `settle`. Each discount (units, price, agreed at) covers the next units withdrawn after
    it was agreed, oldest discount first (first in, first out: the aged units go first), so
    withdrawals between its agreement and `start` used part of it up in earlier statements."""
    waiting = sorted(agreed, key=lambda d: d[2])
    pool: list[list[Any]] = []  # [units left, price], oldest first
    for movement in sorted(movements, key=lambda m: m.at):
        if movement.at >= start:
            break
        while waiting and waiting[0][2] <= movement.at:
            units, price, _ = waiting.pop(0)
            pool.append([units, price])
        if movement.kind != "withdrawal":
            continue
        want = movement.qty
        while want > 0 and pool:
            take = min(want, pool[0][0])
            pool[0][0] -= take
            want -= take
            if pool[0][0] == 0:
                pool.pop(0)
    pool.extend([units, price] for units, price, _ in waiting)
    return [(int(units), price) for units, price in pool if units > 0]


def cents(amount: Decimal) -> Decimal:
    """An amount rounded half up to the cent."""
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------
# Adjustments: a locked period changed afterwards is put right in the next statement


@dataclass(frozen=True)
class Billed:
    """What a locked statement billed for one item, and its period."""

    statement_id: str
    sku: str
    start: datetime
    end: datetime
    qty: int
    unit_price: Decimal
    carried: int = 0  # adjustments for this period already carried into other statements


@dataclass(frozen=True)
class Adjustment:
    """A line of a later statement: the units a locked period's withdrawals changed by since it
    was locked (a correction, an undo), at the price it was billed at."""

    statement_id: str  # the locked statement whose period changed
    sku: str
    qty: int  # signed: a correction that took back withdrawals gives a negative line
    unit_price: Decimal
    start: datetime
    end: datetime

    @property
    def amount(self) -> Decimal:
        """What the adjustment adds to (or takes off) the total."""
        return cents(self.qty * self.unit_price)


def adjustments(
    billed: Iterable[Billed], movements: Mapping[str, Sequence[Movement]]
) -> list[Adjustment]:
    """The adjustment lines for a new statement: for each item of each locked statement, the
    withdrawals of its period now (`movements` per sku), less what it billed and what was
    carried already; nothing when the period still reads as billed."""
    found = []
    for line in billed:
        now = withdrawn(movements.get(line.sku, ()), line.start, line.end)
        delta = now - line.qty - line.carried
        if delta:
            found.append(
                Adjustment(
                    line.statement_id, line.sku, delta, line.unit_price, line.start, line.end
                )
            )
    return found


def total(lines: Iterable[Settlement], extra: Iterable[Adjustment] = ()) -> Decimal:
    """What the statement comes to: its lines and its adjustments."""
    return sum((line.amount for line in lines), Decimal("0.00")) + sum(
        (a.amount for a in extra), Decimal("0.00")
    )


# ---------------------------------------------------------------------------------------------
# The statement's life

Side = Literal["buyer", "supplier"]
SIDES: tuple[Side, ...] = ("buyer", "supplier")


class StatementState(Enum):
    """Where a statement is: waiting for both signatures, disputed (waiting for a correction
    and a re-issue), or locked for good."""

    DRAFT = "draft"
    DISPUTED = "disputed"
    LOCKED = "locked"


@dataclass(frozen=True)
class Signature:
    """Who confirmed one side, and when."""

    by: str
    at: datetime


@dataclass(frozen=True)
class Statement:
    """A statement as the rules see it: its state, revision and who has signed."""

    id: str
    state: StatementState
    revision: int = 1
    confirmed: Mapping[Side, Signature] = field(default_factory=dict)

    def confirm(self, side: Side, by: str, at: datetime, revision: int | None = None) -> Statement:
        """One side signs; both signed locks it. `revision`: the one the signer saw (a button
        on an older card signs nothing)."""
        if self.state is StatementState.LOCKED:
            raise StatementRefused("locked", self)
        if self.state is StatementState.DISPUTED:
            raise StatementRefused("disputed", self)
        if revision is not None and revision != self.revision:
            raise StatementRefused("old_revision", self)
        if side in self.confirmed:
            raise StatementRefused("already", self, side)
        signed = {**self.confirmed, side: Signature(by, at)}
        state = StatementState.LOCKED if all(s in signed for s in SIDES) else self.state
        return replace(self, state=state, confirmed=signed)

    def dispute(self, reason: str) -> Statement:
        """Either side says it is wrong, with why: the signatures are cleared until re-issued."""
        if self.state is StatementState.LOCKED:
            raise StatementRefused("locked", self)
        if not reason.strip():
            raise StatementRefused("needs_reason", self)
        return replace(self, state=StatementState.DISPUTED, confirmed={})

    def reissue(self, changed: bool) -> Statement:
        """Issue it again, recomputed, as the next revision: after a dispute, or when its
        figures changed; a locked one never changes."""
        if self.state is StatementState.LOCKED:
            raise StatementRefused("locked", self)
        if self.state is StatementState.DRAFT and not changed:
            raise StatementRefused("unchanged", self)
        return replace(self, state=StatementState.DRAFT, revision=self.revision + 1, confirmed={})


RefusedWhy = Literal["locked", "disputed", "old_revision", "already", "needs_reason", "unchanged"]


class StatementRefused(Exception):
    """A step the statement's state does not allow; `side` for "already" (who signed it)."""

    def __init__(self, reason: RefusedWhy, statement: Statement, side: Side | None = None) -> None:
        super().__init__(f"{statement.id}: {reason}")
        self.reason = reason
        self.statement = statement
        self.side = side


def side_of(role: str, party_role: str | None, signed: Iterable[Side] = ()) -> Side | None:
    """The side a member signs for: a buyer the customer's, a supplier the supplier's; an admin
    the side of their party, or with none the first side not yet signed. None: no side."""
    if role == "buyer":
        return "buyer"
    if role == "supplier":
        return "supplier"
    if role != "admin":
        return None
    if party_role == "customer":
        return "buyer"
    if party_role == "supplier":
        return "supplier"
    done = set(signed)
    return next((s for s in SIDES if s not in done), "buyer")


def _cutoff(year: int, month: int, day: int, like: datetime) -> datetime:
    """00:00 on that day, on the same clock as `like`."""
    return datetime(year, month, day, tzinfo=like.tzinfo)


def _month_before(cutoff: datetime) -> datetime:
    """The same cutoff one month earlier."""
    if cutoff.month == 1:
        return _cutoff(cutoff.year - 1, 12, cutoff.day, cutoff)
    return _cutoff(cutoff.year, cutoff.month - 1, cutoff.day, cutoff)
