"""Counts held back because they look mistyped (see `vmi_rules.ledger.looks_mistyped`): kept
here, out of the ledger, until the keeper confirms them or a new count or correction of the
item replaces them. Each state change is a guarded update: a double click confirms once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Update, bindparam, select, update
from sqlmodel import Session, col

from bot.storage.among import Among, among_of, bound, where_among
from bot.storage.db import plain
from bot.storage.tables import HeldCountRow

HELD, CONFIRMED, SUPERSEDED = "held", "confirmed", "superseded"


def hold(
    session: Session,
    agreement_id: str,
    sku: str,
    qty: int,
    reason: str,
    at: datetime,
    member_id: str | None = None,
    inbox_id: int | None = None,
    after_id: int | None = None,
) -> HeldCountRow:
    """Hold a count back, made when the item's latest ledger row was `after_id`; an earlier
    held count of the item is replaced by it."""
    supersede(session, agreement_id, [sku], at)
    row = HeldCountRow(
        agreement_id=agreement_id, sku=sku, qty=qty, reason=reason, at=at,
        member_id=member_id, inbox_id=inbox_id, after_id=after_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def supersede(session: Session, agreement_id: str, skus: Collection[str], at: datetime) -> None:
    """A new count or a correction of these items: what was held for them no longer waits."""
    values = {"of_agreement": agreement_id, "skus": bound(skus), "decided": at}
    plain(session).execute(_supersede_statement(among_of(skus)), values)


@cache
def _supersede_statement(skus: Among) -> Update:
    """The statement of `supersede`, built once: every count runs it."""
    held_of_agreement = update(HeldCountRow).where(
        col(HeldCountRow.agreement_id) == bindparam("of_agreement"),
        col(HeldCountRow.state) == HELD,
    )
    return (
        where_among(held_of_agreement, col(HeldCountRow.sku), "skus", skus)
        .values(state=SUPERSEDED, decided_at=bindparam("decided"))
        .execution_options(synchronize_session=False)
    )


def waiting(
    session: Session, agreement_id: str, member_id: str | None = None, sku: str | None = None
) -> list[HeldCountRow]:
    """Held counts of the agreement (the member's, the item's), oldest first."""
    query = select(HeldCountRow).where(
        col(HeldCountRow.agreement_id) == agreement_id, col(HeldCountRow.state) == HELD
    )
    if member_id is not None:
        query = query.where(col(HeldCountRow.member_id) == member_id)
    if sku is not None:
        query = query.where(col(HeldCountRow.sku) == sku)
    return list(session.scalars(query.order_by(col(HeldCountRow.id))))


def drop(session: Session, row: HeldCountRow, at: datetime) -> bool:
    """Take a held count back (its keeper's undo); False when it was confirmed or replaced
    meanwhile."""
    return _decide(session, row, SUPERSEDED, at)


def confirm(session: Session, row: HeldCountRow, at: datetime) -> bool:
    """Mark a held count confirmed; False when it was confirmed or replaced meanwhile."""
    return _decide(session, row, CONFIRMED, at)


def _decide(session: Session, row: HeldCountRow, state: str, at: datetime) -> bool:
    """Move a held count to `state`, once (a guarded update)."""
    result = session.execute(
        update(HeldCountRow)
        .where(col(HeldCountRow.id) == row.id, col(HeldCountRow.state) == HELD)
        .values(state=state, decided_at=at)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1
