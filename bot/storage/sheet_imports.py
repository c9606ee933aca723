"""Sheets sent in, waiting for their sender's confirmation: stored once per content and
agreement, and recorded once (a guarded pending → recorded update), in the caller's
transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.storage.public_ids import PublicIds
from bot.storage.tables import SheetImportRow

IDS = PublicIds("I", "an imported sheet")
public_id = IDS.of  # I3 for row 3


def content_hash(data: bytes) -> str:
    """The file's fingerprint: the same bytes are the same sheet."""
    return hashlib.sha256(data).hexdigest()


def find(session: Session, agreement_id: str, digest: str) -> SheetImportRow | None:
    """The sheet with this content sent to the agreement before, if any."""
    return session.scalars(
        select(SheetImportRow).where(
            col(SheetImportRow.agreement_id) == agreement_id,
            col(SheetImportRow.content_hash) == digest,
        )
    ).first()


def add(session: Session, row: SheetImportRow) -> SheetImportRow:
    """Store a sheet sent in; a concurrent one of the same content wins and is returned."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = find(session, row.agreement_id, row.content_hash)
        assert found is not None
        return found
    return row


def waiting(
    session: Session, agreement_id: str, member_id: str, public: str | None = None
) -> SheetImportRow | None:
    """The member's latest sheet waiting for confirmation (or the one named `I3`)."""
    query = select(SheetImportRow).where(
        col(SheetImportRow.agreement_id) == agreement_id,
        col(SheetImportRow.member_id) == member_id,
    )
    if public is not None:
        found = IDS.row(public)
        query = query.where(col(SheetImportRow.id) == (found if found is not None else -1))
    else:
        query = query.where(col(SheetImportRow.state) == "pending")
    return session.scalars(query.order_by(col(SheetImportRow.id).desc())).first()


def mark_recorded(session: Session, row: SheetImportRow, by: str, at: datetime) -> bool:
    """pending → recorded, once: False when it was recorded already (a double click)."""
    done = cast(
        CursorResult[tuple[()]],
        session.execute(
            update(SheetImportRow)
            .where(col(SheetImportRow.id) == row.id, col(SheetImportRow.state) == "pending")
            .values(state="recorded", decided_at=at, decided_by=by)
        ),
    )
    session.refresh(row)
    return done.rowcount == 1
