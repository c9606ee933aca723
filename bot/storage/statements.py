"""Settlement statements in the database: one per agreement and period, made once however many
processes draft it, and moved as guarded updates (`… WHERE id = ? AND version = ?`) with a log
row for each step (issued, confirmed, disputed, re-issued), in the caller's transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.storage.public_ids import PublicIds
from bot.storage.tables import StatementEventRow, StatementRow
from vmi_rules.settlement import Side, Signature, Statement, StatementState

IDS = PublicIds("S", "a statement")
public_id = IDS.of  # S3 for row 3
row_id = IDS.row  # 3 for "S3"; None when it is not a statement id


def get(session: Session, public: str) -> StatementRow | None:
    """The stored statement with this public id, read afresh."""
    rid = row_id(public)
    if rid is None:
        return None
    return session.scalars(
        select(StatementRow)
        .where(col(StatementRow.id) == rid)
        .execution_options(populate_existing=True)
    ).one_or_none()


def for_period(session: Session, agreement_id: str, end: datetime) -> StatementRow | None:
    """The agreement's statement of the period that ends at `end`, if drafted."""
    return session.scalars(
        select(StatementRow)
        .where(col(StatementRow.agreement_id) == agreement_id, col(StatementRow.period_end) == end)
        .execution_options(populate_existing=True)
    ).one_or_none()


def create_once(
    session: Session,
    agreement_id: str,
    start: datetime,
    end: datetime,
    lines: list[dict[str, Any]],
    total: Decimal,
    at: datetime,
) -> tuple[StatementRow, bool]:
    """The period's statement, made now unless it is there: (row, True when made here).

    Two processes drafting at once both insert; the unique (agreement, period end) lets one
    row in, and the other reads it back."""
    found = for_period(session, agreement_id, end)
    if found is not None:
        return found, False
    row = StatementRow(
        agreement_id=agreement_id,
        period_start=start,
        period_end=end,
        lines=json.dumps(lines, ensure_ascii=False),
        total=total,
        created_at=at,
        updated_at=at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the savepoint's rollback took our row out of the session
        found = for_period(session, agreement_id, end)
        if found is None:
            raise
        return found, False
    log(session, row, "issue", at, total=total)
    return row, True


def as_rule(row: StatementRow) -> Statement:
    """The stored statement as the rules see it."""
    signed: dict[Side, Signature] = {}
    if row.buyer_at is not None:
        signed["buyer"] = Signature(row.buyer_by, row.buyer_at)
    if row.supplier_at is not None:
        signed["supplier"] = Signature(row.supplier_by, row.supplier_at)
    return Statement(public_id(row.id), StatementState(row.state), row.revision, signed)


def apply(
    session: Session,
    row: StatementRow,
    after: Statement,
    at: datetime,
    *,
    lines: list[dict[str, Any]] | None = None,
    total: Decimal | None = None,
) -> bool:
    """Store the statement's next state if nobody changed it since `row` was read; False when
    someone was first (the caller reads it again)."""
    buyer, supplier = after.confirmed.get("buyer"), after.confirmed.get("supplier")
    values: dict[str, Any] = {
        "state": after.state.value,
        "revision": after.revision,
        "buyer_by": buyer.by if buyer else "",
        "buyer_at": buyer.at if buyer else None,
        "supplier_by": supplier.by if supplier else "",
        "supplier_at": supplier.at if supplier else None,
        "locked_at": at if after.state is StatementState.LOCKED else None,
        "version": row.version + 1,
        "updated_at": at,
    }
    if lines is not None:
        values["lines"] = json.dumps(lines, ensure_ascii=False)
    if total is not None:
        values["total"] = total
    statement = (
        update(StatementRow)
        .where(col(StatementRow.id) == row.id, col(StatementRow.version) == row.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = cast("CursorResult[Any]", session.execute(statement))
    return result.rowcount == 1


def log(
    session: Session,
    row: StatementRow,
    action: str,
    at: datetime,
    *,
    revision: int | None = None,
    side: str = "",
    member_id: str | None = None,
    by_name: str = "",
    reason: str = "",
    total: Decimal | None = None,
) -> None:
    """A line of the statement's log."""
    assert row.id is not None
    session.add(
        StatementEventRow(
            statement_id=row.id,
            action=action,
            revision=revision if revision is not None else row.revision,
            side=side,
            member_id=member_id,
            by_name=by_name,
            reason=reason,
            total=total if total is not None else row.total,
            at=at,
        )
    )
    session.flush()


def events(
    session: Session, statement_row_id: int, action: str | None = None
) -> list[StatementEventRow]:
    """A statement's log, first first; only `action`'s lines when given."""
    query = select(StatementEventRow).where(col(StatementEventRow.statement_id) == statement_row_id)
    if action is not None:
        query = query.where(col(StatementEventRow.action) == action)
    return list(session.scalars(query.order_by(col(StatementEventRow.id))))


def lines_of(row: StatementRow) -> list[dict[str, Any]]:
    """The statement's lines as last issued: withdrawals per item, then adjustments."""
    found: list[dict[str, Any]] = json.loads(row.lines)
    return found


def latest(session: Session, agreement_id: str) -> StatementRow | None:
    """The agreement's statement to show: the oldest one not yet locked, else the newest."""
    rows = list(
        session.scalars(
            select(StatementRow)
            .where(col(StatementRow.agreement_id) == agreement_id)
            .order_by(col(StatementRow.period_end))
            .execution_options(populate_existing=True)
        )
    )
    waiting = [r for r in rows if r.state != StatementState.LOCKED.value]
    return waiting[0] if waiting else (rows[-1] if rows else None)


def locked_before(session: Session, agreement_id: str, end: datetime) -> list[StatementRow]:
    """The agreement's locked statements of periods that ended by `end`."""
    return list(
        session.scalars(
            select(StatementRow).where(
                col(StatementRow.agreement_id) == agreement_id,
                col(StatementRow.state) == StatementState.LOCKED.value,
                col(StatementRow.period_end) <= end,
            )
        )
    )


def carried(
    session: Session, agreement_id: str, but: int | None = None
) -> dict[tuple[str, str], int]:
    """Per (locked statement id, sku), the adjustments already carried into the agreement's
    statements (all but the one `but`, which is being drafted again)."""
    found: dict[tuple[str, str], int] = defaultdict(int)
    rows = session.scalars(
        select(StatementRow).where(
            col(StatementRow.agreement_id) == agreement_id, col(StatementRow.id) != (but or 0)
        )
    )
    for row in rows:
        for line in lines_of(row):
            if line.get("kind") == "adjustment":
                found[(line["of"], line["sku"])] += int(line["qty"])
    return found
