"""Amendments in the database: proposed, agreed or rejected once (guarded transitions), and
every one kept with who proposed it, who decided, when, and each figure's from and to."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select as CoreSelect
from sqlalchemy import select as select_columns
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.storage.among import Among, among_of, bound, where_among
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


@dataclass(frozen=True, slots=True)
class Agreed:
    """An agreed amendment, as the terms read it: what `applied` returns for each figure."""

    id: int
    agreement_id: str
    sku: str
    proposed_by: str
    proposed_at: datetime
    decided_by: str
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class AgreedFigure:
    """One figure of an agreed amendment that the file has not overtaken."""

    id: int
    field: str
    old: int
    new: int
    file_value: int


def as_rule(change: AmendmentChangeRow | AgreedFigure) -> Change:
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
) -> list[tuple[Agreed, AgreedFigure]]:
    """The agreed figures the file has not overtaken, oldest agreement first; of every
    agreement when `agreement_ids` is None."""
    query = _applied_query(among_of(agreement_ids))
    params = {"agreement_ids": bound(agreement_ids)}
    # plain rows into plain classes, not ORM objects: every message reads its terms
    return [
        (
            Agreed(r.id, r.agreement_id, r.sku, r.proposed_by, r.proposed_at, r.decided_by,
                   r.decided_at),
            AgreedFigure(r.change_id, r.field, r.old, r.new, r.file_value),
        )
        for r in plain(session).execute(query, params)
    ]  # fmt: skip


@cache
def _applied_query(agreements: Among) -> CoreSelect[Any]:
    """The query of `applied`, built once: every message reads the terms."""
    amendment, change = AmendmentRow.__table__.c, AmendmentChangeRow.__table__.c  # type: ignore[attr-defined]
    columns = (
        amendment.id, amendment.agreement_id, amendment.sku, amendment.proposed_by,
        amendment.proposed_at, amendment.decided_by, amendment.decided_at,
        change.id.label("change_id"), change.field, change.old, change.new, change.file_value,
    )  # fmt: skip
    query = (
        select_columns(*columns)
        .select_from(AmendmentRow)
        .join(AmendmentChangeRow, col(AmendmentChangeRow.amendment_id) == col(AmendmentRow.id))
        .where(
            col(AmendmentRow.state) == APPLIED,
            col(AmendmentChangeRow.superseded_at).is_(None),
        )
        .order_by(col(AmendmentRow.decided_at), col(AmendmentRow.id), col(AmendmentChangeRow.id))
    )
    return where_among(query, col(AmendmentRow.agreement_id), "agreement_ids", agreements)


def supersede(session: Session, change: AmendmentChangeRow | AgreedFigure, at: datetime) -> bool:
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
