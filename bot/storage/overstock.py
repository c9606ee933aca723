"""Overstock alerts (积压) in the database: raise one per lot guarded by a unique key, raise it
again once by a guarded update, record the one choice made on it, and read the discounts the
next statement bills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.storage.public_ids import PublicIds
from bot.storage.tables import OverstockAlertRow, OverstockDecisionRow
from vmi_rules.overstock import AgedStock, Choice, PastAlert

IDS = PublicIds("O", "an overstock alert")
public_id = IDS.of  # O3 for row 3
row_id = IDS.row  # 3 for "O3"; None when it is not an overstock alert id


def get(session: Session, public: str) -> OverstockAlertRow | None:
    """The alert people call `public` (O3), or None."""
    number = row_id(public)
    return session.get(OverstockAlertRow, number) if number is not None else None


def latest(session: Session, agreement_id: str, sku: str) -> OverstockAlertRow | None:
    """The item's latest alert, or None."""
    return session.scalars(
        select(OverstockAlertRow)
        .where(
            col(OverstockAlertRow.agreement_id) == agreement_id,
            col(OverstockAlertRow.sku) == sku,
        )
        .order_by(col(OverstockAlertRow.id).desc())
        .limit(1)
    ).first()


def as_rule(row: OverstockAlertRow) -> PastAlert:
    """The stored alert as the rules see it."""
    choice: Choice | None = row.choice  # type: ignore[assignment]  # stored from Choice only
    return PastAlert(row.covers_until, row.raised_at, row.repeated_at, choice, row.decided_at)


def raise_alert(
    session: Session,
    agreement_id: str,
    sku: str,
    aged: AgedStock,
    on_hand: int,
    unit_price: Decimal,
    now: datetime,
) -> OverstockAlertRow | None:
    """Store a new alert for the aged lots up to `aged.newest`; None when another process
    stored it first (the unique key on the lots)."""
    row = OverstockAlertRow(
        agreement_id=agreement_id,
        sku=sku,
        qty=aged.qty,
        on_hand=on_hand,
        oldest_since=aged.oldest,
        covers_until=aged.newest,
        unit_price=unit_price,
        raised_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def raise_again(session: Session, row: OverstockAlertRow, now: datetime) -> bool:
    """Mark the alert raised again, once: False when it already was (by another process)."""
    done = session.execute(
        update(OverstockAlertRow)
        .where(col(OverstockAlertRow.id) == row.id, col(OverstockAlertRow.repeated_at).is_(None))
        .values(repeated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    return bool(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


@dataclass(frozen=True)
class Decision:
    """A choice to record on an alert."""

    choice: Choice
    member_id: str
    at: datetime
    qty: int = 0
    unit_price: Decimal | None = None
    inbox_id: int | None = None


def decide(
    session: Session, row: OverstockAlertRow, decision: Decision
) -> OverstockDecisionRow | None:
    """Record the choice if nobody decided the alert since it was last raised (a keep, raised
    again, may be decided anew): the decision's row, or None when someone did (then nothing
    is written)."""
    still_open = or_(
        col(OverstockAlertRow.choice).is_(None),
        (col(OverstockAlertRow.choice) == "keep")
        & col(OverstockAlertRow.repeated_at).is_not(None)
        & (col(OverstockAlertRow.repeated_at) > col(OverstockAlertRow.decided_at)),
    )
    done = session.execute(
        update(OverstockAlertRow)
        .where(col(OverstockAlertRow.id) == row.id, still_open)
        .values(choice=decision.choice, decided_by=decision.member_id, decided_at=decision.at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if not done.rowcount:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        return None
    recorded = OverstockDecisionRow(
        alert_id=row.id or 0,
        agreement_id=row.agreement_id,
        sku=row.sku,
        choice=decision.choice,
        qty=decision.qty,
        unit_price=decision.unit_price,
        member_id=decision.member_id,
        at=decision.at,
        inbox_id=decision.inbox_id,
    )
    session.add(recorded)
    session.flush()
    return recorded


def agreed_discounts(
    session: Session, agreement_id: str
) -> dict[str, list[tuple[int, Decimal, datetime]]]:
    """Every discount agreed for the agreement's items, per sku, oldest first, as (units,
    price per unit, when agreed): what statements bill at that price as the units go."""
    query = (
        select(
            col(OverstockDecisionRow.sku),
            col(OverstockDecisionRow.qty),
            col(OverstockDecisionRow.unit_price),
            col(OverstockDecisionRow.at),
        )
        .where(
            col(OverstockDecisionRow.agreement_id) == agreement_id,
            col(OverstockDecisionRow.choice) == "discount",
        )
        .order_by(col(OverstockDecisionRow.id))
    )
    out: dict[str, list[tuple[int, Decimal, datetime]]] = {}
    for sku, qty, price, at in session.execute(query):
        if price is not None:
            out.setdefault(sku, []).append((qty, price, at))
    return out


def discounts(
    session: Session, agreement_id: str, sku: str, since: datetime | None = None
) -> list[tuple[int, Decimal]]:
    """The discounts agreed for an item, oldest first, as (units, price per unit): what the
    next statement bills at that price instead of the unit price. `since`: only those agreed
    at or after it (the last cutoff)."""
    query = (
        select(col(OverstockDecisionRow.qty), col(OverstockDecisionRow.unit_price))
        .where(
            col(OverstockDecisionRow.agreement_id) == agreement_id,
            col(OverstockDecisionRow.sku) == sku,
            col(OverstockDecisionRow.choice) == "discount",
        )
        .order_by(col(OverstockDecisionRow.id))
    )
    if since is not None:
        query = query.where(col(OverstockDecisionRow.at) >= since)
    return [(qty, price) for qty, price in session.execute(query) if price is not None]
