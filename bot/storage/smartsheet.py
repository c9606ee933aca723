"""What the bot keeps of each agreement's WeCom smart sheet: the doc, its lease, and per item
its record and what was last written to it. Every step is a guarded write: only the holder of
an agreement's lease changes its doc, so two processes (or a restart) never create two docs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from bot.storage.tables import LedgerRow, SmartSheetDocRow, SmartSheetRecordRow

READY, FAILED = "ready", "failed"


@dataclass(frozen=True)
class SheetDoc:
    """The stored doc of one agreement, as the mirror reads it."""

    agreement_id: str
    docid: str | None
    url: str | None
    sheet_id: str | None
    fields: dict[str, str]
    shared: list[tuple[str, int]]
    state: str
    retry_after: datetime | None


@dataclass(frozen=True)
class Written:
    """An item's record and the values last written to it."""

    record_id: str
    values: dict[str, Any]


def _doc(row: SmartSheetDocRow) -> SheetDoc:
    return SheetDoc(
        row.agreement_id,
        row.docid,
        row.url,
        row.sheet_id,
        json.loads(row.fields) if row.fields else {},
        [(u, int(a)) for u, a in json.loads(row.shared)] if row.shared else [],
        row.state,
        row.retry_after,
    )


def take_lease(
    session: Session, agreement_id: str, owner: str, now: datetime, until: datetime
) -> SheetDoc | None:
    """The agreement's doc, leased to `owner` until `until`; None while another holds it.
    The row is made on the first call: of two processes making it, one wins."""
    if session.get(SmartSheetDocRow, agreement_id) is None:
        try:
            with session.begin_nested():
                session.add(SmartSheetDocRow(agreement_id=agreement_id, created_at=now,
                                             updated_at=now))  # fmt: skip
        except IntegrityError:
            pass  # another process made it just now
    D = SmartSheetDocRow
    taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(D)
        .where(
            col(D.agreement_id) == agreement_id,
            or_(
                col(D.lease_until).is_(None),
                col(D.lease_until) <= now,
                col(D.lease_owner) == owner,
            ),
        )
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return None
    row = session.get(D, agreement_id, populate_existing=True)
    assert row is not None
    return _doc(row)


def release(session: Session, agreement_id: str, owner: str) -> None:
    """Give the lease back, so that the next pass (of any process) need not wait it out."""
    D = SmartSheetDocRow
    session.execute(
        update(D)
        .where(col(D.agreement_id) == agreement_id, col(D.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None)
    )


def _held(session: Session, agreement_id: str, owner: str, now: datetime, **values: Any) -> bool:
    """Change the doc only while `owner` still holds its lease; whether it did."""
    D = SmartSheetDocRow
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(D)
        .where(col(D.agreement_id) == agreement_id, col(D.lease_owner) == owner)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def created(
    session: Session, agreement_id: str, owner: str, docid: str, url: str, now: datetime
) -> bool:
    """The doc WeCom made; kept only while `owner` holds the lease and no doc is kept yet."""
    D = SmartSheetDocRow
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(D)
        .where(
            col(D.agreement_id) == agreement_id,
            col(D.lease_owner) == owner,
            col(D.docid).is_(None),
        )
        .values(docid=docid, url=url, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def set_sheet(
    session: Session, agreement_id: str, owner: str, sheet_id: str, now: datetime
) -> None:
    """The sheet of the doc the rows go to."""
    _held(session, agreement_id, owner, now, sheet_id=sheet_id)


def set_fields(
    session: Session, agreement_id: str, owner: str, fields: dict[str, str], now: datetime
) -> None:
    """The fields' ids by title, once all were added."""
    _held(session, agreement_id, owner, now, fields=json.dumps(fields, ensure_ascii=False))


def set_shared(
    session: Session,
    agreement_id: str,
    owner: str,
    shared: Sequence[tuple[str, int]],
    now: datetime,
) -> None:
    """Whom the doc is shared with now, and how (auth), as WeCom took it; the doc is ready."""
    _held(session, agreement_id, owner, now, shared=json.dumps(sorted(shared)), state=READY)


def retry_after(
    session: Session, agreement_id: str, owner: str, when: datetime, now: datetime
) -> None:
    """WeCom asked to wait (a rate limit): no process writes the doc again before `when`."""
    _held(session, agreement_id, owner, now, retry_after=when)


def failed(session: Session, agreement_id: str, owner: str, reason: str, now: datetime) -> None:
    """WeCom will not let the app edit the doc: the mirror stops rather than loop."""
    _held(session, agreement_id, owner, now, state=FAILED, reason=reason[:500])


def doc_url(session: Session, agreement_id: str) -> str | None:
    """The smart sheet's link, once the doc exists and is not failed."""
    row = session.get(SmartSheetDocRow, agreement_id)
    if row is None or row.state == FAILED:
        return None
    return row.url


def written(session: Session, agreement_id: str) -> dict[str, Written]:
    """Each item's record and what was last written to it, by sku."""
    R = SmartSheetRecordRow
    rows = session.scalars(select(R).where(col(R.agreement_id) == agreement_id))
    return {r.sku: Written(r.record_id, json.loads(r.written)) for r in rows}


def save_written(
    session: Session,
    agreement_id: str,
    rows: Iterable[tuple[str, str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Record (sku, record_id, values) as written to the sheet."""
    R = SmartSheetRecordRow
    for sku, record_id, values in rows:
        text = json.dumps(values, ensure_ascii=False, sort_keys=True)
        row = session.scalars(
            select(R).where(col(R.agreement_id) == agreement_id, col(R.sku) == sku)
        ).first()
        if row is None:
            session.add(R(agreement_id=agreement_id, sku=sku, record_id=record_id, written=text,
                          written_at=now))  # fmt: skip
        else:
            row.record_id, row.written, row.written_at = record_id, text, now
            session.add(row)
    session.flush()


def forget(session: Session, agreement_id: str, skus: Sequence[str]) -> None:
    """The items' records are gone from the sheet: nothing is known written for them."""
    R = SmartSheetRecordRow
    session.execute(
        delete(R).where(col(R.agreement_id) == agreement_id, col(R.sku).in_(list(skus)))
    )


def last_counters(session: Session, agreement_id: str) -> dict[str, str | None]:
    """Who posted each item's latest count that still stands (not taken back), by sku."""
    L = LedgerRow
    taken_back = aliased(LedgerRow)
    latest = (
        select(col(L.sku), func.max(L.id).label("id"))
        .where(
            col(L.agreement_id) == agreement_id,
            col(L.kind) == "count",
            ~exists().where(col(taken_back.reverses_id) == col(L.id)),
        )
        .group_by(col(L.sku))
        .subquery()
    )
    query = select(col(L.sku), col(L.member_id)).join(
        latest, and_(col(L.id) == latest.c.id, col(L.sku) == latest.c.sku)
    )
    return {sku: member for sku, member in session.execute(query)}
