"""Amendments in the database: proposed, agreed or rejected once (guarded transitions), and
every one kept with who proposed it, who decided, when, and each figure's from and to."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import cast

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from bot.storage.db import plain
from bot.storage.public_ids import PublicIds
from bot.storage.tables import AmendmentChangeRow, AmendmentRow
from vmi_rules.amendments import Change, Field, Side

PROPOSED, APPLIED, REJECTED = "proposed", "applied", "rejected"
IDS = PublicIds("A", "an amendment")
public_id = IDS.of  # A1 for row 1


def get(session: Session, public: str) -> AmendmentRow | None:
    """The amendment called `public` ("A3"), or None."""
    found = IDS.row(public)
    return session.get(AmendmentRow, found) if found is not None else None


def propose(
    session: Session,
    agreement_id: str,
    sku: str,
    member_id: str,
    side: str,
    changes: Sequence[Change],
    at: datetime,
    inbox_id: int | None = None,
) -> AmendmentRow:
    """Record a proposed amendment and its figures; nothing applies until the other side agrees."""
    row = AmendmentRow(
        agreement_id=agreement_id,
        sku=sku,
        proposed_by=member_id,
        proposed_side=side,
        proposed_at=at,
        inbox_id=inbox_id,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    for change in changes:
        session.add(
            AmendmentChangeRow(
                amendment_id=row.id,
                field=change.field,
                old=change.old,
                new=change.new,
                file_value=change.file_value,
            )
        )
    session.flush()
    return row


def open_like(
    session: Session, agreement_id: str, sku: str, changes: Sequence[Change]
) -> AmendmentRow | None:
    """An amendment still waiting for the other side with the same figures (a second press of
    a suggestion's button, or the same change typed again), or None."""
    wanted = sorted((c.field, c.old, c.new) for c in changes)
    waiting = select(AmendmentRow).where(
        col(AmendmentRow.agreement_id) == agreement_id,
        col(AmendmentRow.sku) == sku,
        col(AmendmentRow.state) == PROPOSED,
    )
    for row in session.exec(waiting.order_by(col(AmendmentRow.id))):
        if sorted((c.field, c.old, c.new) for c in changes_of(session, row.id)) == wanted:
            return row
    return None


def changes_of(session: Session, amendment_id: int | None) -> list[AmendmentChangeRow]:
    """The figures of one amendment, in the order proposed."""
    query = select(AmendmentChangeRow).where(col(AmendmentChangeRow.amendment_id) == amendment_id)
    return list(session.exec(query.order_by(col(AmendmentChangeRow.id))))


def as_rule(change: AmendmentChangeRow) -> Change:
    """A stored figure as the rules read it."""
    return Change(cast(Field, change.field), change.old, change.new, change.file_value)


def rule_changes(session: Session, amendment_id: int | None) -> list[Change]:
    """The figures of one amendment as the rules read them."""
    return [as_rule(c) for c in changes_of(session, amendment_id)]


def proposer_side(row: AmendmentRow) -> Side | None:
    """The side the amendment came from ("": an admin of no party)."""
    return cast(Side, row.proposed_side) if row.proposed_side else None


def decide(
    session: Session, row: AmendmentRow, state: str, member_id: str, at: datetime, reason: str = ""
) -> bool:
    """Agree (applied) or reject a proposed amendment, once: False when someone decided first."""
    done = session.execute(
        update(AmendmentRow)
        .where(col(AmendmentRow.id) == row.id, col(AmendmentRow.state) == PROPOSED)
        .values(state=state, decided_by=member_id, decided_at=at, reject_reason=reason)
    )
    session.refresh(row)
    return bool(getattr(done, "rowcount", 0))


def applied(
    session: Session, agreement_ids: Collection[str] | None
) -> list[tuple[AmendmentRow, AmendmentChangeRow]]:
    """The agreed figures the file has not overtaken, oldest agreement first; of every
    agreement when `agreement_ids` is None."""
    query = _applied_query(agreement_ids is not None)
    params = {"agreement_ids": list(agreement_ids or ())}
    # read as plain rows (every message reads the terms, and most find none): each row is the
    # amendment's columns, then its change's
    split = len(_AMENDMENT_COLUMNS)
    return [
        (
            AmendmentRow(**dict(zip(_AMENDMENT_COLUMNS, found[:split], strict=True))),
            AmendmentChangeRow(**dict(zip(_CHANGE_COLUMNS, found[split:], strict=True))),
        )
        for found in plain(session).execute(query, params)
    ]


_AMENDMENT_COLUMNS = tuple(AmendmentRow.__table__.c.keys())  # type: ignore[attr-defined]
_CHANGE_COLUMNS = tuple(AmendmentChangeRow.__table__.c.keys())  # type: ignore[attr-defined]


@cache
def _applied_query(by_agreement: bool) -> Select[AmendmentRow, AmendmentChangeRow]:
    """The query of `applied`, built once: every message reads the terms."""
    query = (
        select(AmendmentRow, AmendmentChangeRow)
        .join(AmendmentChangeRow, col(AmendmentChangeRow.amendment_id) == col(AmendmentRow.id))
        .where(
            col(AmendmentRow.state) == APPLIED,
            col(AmendmentChangeRow.superseded_at).is_(None),
        )
        .order_by(col(AmendmentRow.decided_at), col(AmendmentRow.id), col(AmendmentChangeRow.id))
    )
    if by_agreement:
        query = query.where(
            col(AmendmentRow.agreement_id).in_(bindparam("agreement_ids", expanding=True))
        )
    return query


def supersede(session: Session, change: AmendmentChangeRow, at: datetime) -> bool:
    """Mark an agreed figure overtaken by the file, once: False when it already was."""
    done = session.execute(
        update(AmendmentChangeRow)
        .where(
            col(AmendmentChangeRow.id) == change.id, col(AmendmentChangeRow.superseded_at).is_(None)
        )
        .values(superseded_at=at)
    )
    return bool(getattr(done, "rowcount", 0))


def waiting(session: Session, agreement_id: str) -> list[AmendmentRow]:
    """The agreement's amendments still waiting for the other side, oldest first."""
    query = select(AmendmentRow).where(
        col(AmendmentRow.agreement_id) == agreement_id, col(AmendmentRow.state) == PROPOSED
    )
    return list(session.exec(query.order_by(col(AmendmentRow.id))))
