"""The inbox: every incoming message or click is stored once per platform message id.

Platforms redeliver (Slack retries, WeCom retries) and people double-click; the second copy
finds its id taken and changes nothing. A message's text is kept once, in `text`; the JSON of
the rest (`incoming`) gets it back when the message is taken to be handled. Rows stored before
kept the text in both, and read the same.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, select, update
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session, col

from bot.storage.chat_firsts import chat_firsts
from bot.storage.db import insert_skipping, plain
from bot.storage.tables import InboxRow


def receive(
    session: Session | Connection,
    platform: str,
    platform_message_id: str,
    received_at: datetime,
    *,
    chat: str = "",
    sender: str = "",
    text: str = "",
    action: str = "",
    incoming: str = "",
) -> int | None:
    """Store an incoming message; its inbox id, or None when this id was already received.

    `incoming` is the whole message as JSON; its "text" is stored once, in `text`.
    """
    dialect = (
        session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name
    )
    values = {
        "platform": platform,
        "platform_message_id": platform_message_id,
        "chat": chat,
        "sender": sender,
        "text": text,
        "action": action,
        "incoming": _without_text(incoming),
        "received_at": received_at,
    }
    return session.execute(_receive_statement(dialect), values).scalar_one_or_none()


@cache
def _receive_statement(dialect: str) -> ReturningInsert[int]:
    """The insert of `receive`, built once per database kind: every platform request runs it
    (the values are bound by column name)."""
    stored = insert_skipping(dialect, InboxRow, "platform", "platform_message_id")
    return stored.returning(col(InboxRow.id))


def claim(session: Session, inbox_id: int, at: datetime) -> Stored | None:
    """Take a stored message to handle it in this transaction: the message as the adapter
    stored it, or None when it is taken already."""
    # One statement: the row is marked taken and read back together (RETURNING).
    row = plain(session).execute(_CLAIM, {"inbox_row": inbox_id, "taken": at}).first()
    if row is None:
        return None
    return _with_text(row.incoming, row.text) if row.incoming else None


_CLAIM = (
    update(InboxRow)
    .where(col(InboxRow.id) == bindparam("inbox_row"), col(InboxRow.handled_at).is_(None))
    .values(handled_at=bindparam("taken"))
    .returning(col(InboxRow.incoming), col(InboxRow.text))
    .execution_options(synchronize_session=False)
)


def _without_text(incoming: str) -> str:
    """The message's JSON without its text, which has a column of its own."""
    if not incoming or '"text"' not in incoming:
        return incoming
    raw = json.loads(incoming)
    if not isinstance(raw, dict) or "text" not in raw:
        return incoming
    del raw["text"]
    return json.dumps(raw, ensure_ascii=False)


# A stored message as the adapter gave it: its fields by name (Incoming.from_fields).
Stored = dict[str, Any]


def _with_text(incoming: str, text: str) -> Stored:
    """The message's fields whole again: its text from the column, unless the JSON kept it
    (rows stored before the text was kept once)."""
    try:
        raw = json.loads(incoming)
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        return {"unreadable": incoming}  # not a message: its handling fails, it is set aside
    raw.setdefault("text", text)
    return raw


def waiting(session: Session, limit: int = 100) -> list[int]:
    """Messages stored but not handled yet, oldest first."""
    return list(
        session.scalars(
            select(col(InboxRow.id))
            .where(col(InboxRow.handled_at).is_(None))
            .order_by(col(InboxRow.id))
            .limit(limit)
        )
    )


def mark_failed(session: Session, inbox_id: int, at: datetime, error: str) -> None:
    """A message whose handling raised: set aside with the reason, so it blocks nothing."""
    session.execute(
        update(InboxRow)
        .where(col(InboxRow.id) == inbox_id)
        .values(handled_at=at, error=error[:500])
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Waiting:
    """A chat's oldest waiting message as stored; read whole (`stored`) only when it is
    handled, since a batch that ends early leaves the rest of its messages for the next."""

    id: int
    incoming: str
    text: str

    def stored(self) -> Stored | None:
        """The message as the adapter stored it (None for a row without one)."""
        return _with_text(self.incoming, self.text) if self.incoming else None


def heads(session: Session, limit: int = 50) -> list[Waiting]:
    """The oldest waiting message of up to `limit` chats, oldest first, locked for this
    transaction. Mark the ones handled with `mark_handled` in the same transaction.

    A chat whose oldest message another worker holds is skipped whole (SKIP LOCKED on
    PostgreSQL; SQLite's writers take turns anyway), so a chat's messages are handled one at a
    time and in order, by whichever process takes them. A worker that dies lets go of its
    locks with its connection: the message is waiting again, nothing is lost.
    """
    taken: list[Waiting] = []
    if limit < 1:
        return taken
    connection = plain(session)
    for candidates in chat_firsts(connection, _WAITING_PAGE, {}, limit):
        most = {"candidates": candidates, "most": limit - len(taken)}
        found = connection.execute(_LOCK_HEADS, most)
        taken.extend(Waiting(row.id, row.incoming, row.text) for row in found)
        if len(taken) == limit:
            break
    return taken


# a page of waiting messages (see `chat_firsts`), by the index of those waiting
_WAITING_PAGE = (
    select(col(InboxRow.id), col(InboxRow.platform), col(InboxRow.chat))
    .where(col(InboxRow.handled_at).is_(None), col(InboxRow.id) > bindparam("after"))
    .order_by(col(InboxRow.id))
    .limit(bindparam("page", type_=Integer))
)
# Still waiting when locked (another process may have handled one since it was read); one
# another process holds is skipped, and the batch takes the next chat's instead.
_LOCK_HEADS = (
    select(col(InboxRow.id), col(InboxRow.incoming), col(InboxRow.text))
    .where(
        col(InboxRow.id).in_(bindparam("candidates", expanding=True)),
        col(InboxRow.handled_at).is_(None),
    )
    .order_by(col(InboxRow.id))
    .limit(bindparam("most", type_=Integer))
    .with_for_update(skip_locked=True, of=InboxRow)
)


class TakenElsewhere(Exception):
    """A message of the batch was handled by another worker meanwhile: the batch must not
    commit (its locks say this cannot happen; the guard makes sure)."""


def mark_handled(session: Session, inbox_ids: Collection[int], at: datetime) -> None:
    """Mark messages taken by `heads` handled, in one statement for the batch; raises
    `TakenElsewhere` when one of them was handled already."""
    if not inbox_ids:
        return
    done = plain(session).execute(_MARK_HANDLED, {"inbox_rows": list(inbox_ids), "taken": at})
    if done.rowcount != len(inbox_ids):
        raise TakenElsewhere(f"{len(inbox_ids) - done.rowcount} of {len(inbox_ids)} messages")


_MARK_HANDLED = (
    update(InboxRow)
    .where(
        col(InboxRow.id).in_(bindparam("inbox_rows", expanding=True)),
        col(InboxRow.handled_at).is_(None),
    )
    .values(handled_at=bindparam("taken"))
    .execution_options(synchronize_session=False)
)
