"""`vmi-bot import FILE --as MEMBER [--dry-run]`: a sheet of counts and plans, read and shown
row by row; recorded (as sending it in the console chat and confirming would) unless only
looked at. The same file twice records once."""

from __future__ import annotations

import argparse
import base64
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import col

from bot.config import Member
from bot.runtime.clock import aware, real_clock
from bot.runtime.context import Runtime
from bot.settings import CONSOLE
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from handlers.conversation import accept, process
from handlers.incoming import Incoming
from handlers.intents.sheet import preview, preview_card
from handlers.turn import Turn
from messages.cards import Card


def import_file(runtime: Runtime, args: argparse.Namespace) -> int:
    """Show what the sheet holds and, without --dry-run, record it as the member."""
    config = runtime.config
    member = config.member(args.member) or config.member_by_platform(CONSOLE, args.member)
    if member is None:
        known = ", ".join(m.id for m in config.members)
        print(f"vmi-bot: no member {args.member!r}; known: {known}", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as err:
        print(f"vmi-bot: cannot read {path}: {err.strerror or err}", file=sys.stderr)
        return 2
    from zoneinfo import ZoneInfo

    at: datetime = (
        real_clock() if args.now is None else aware(args.now, ZoneInfo(config.bot.timezone))
    )
    if args.dry_run:
        agreements = config.agreements_of(member)
        agreement = agreements[0] if agreements else config.agreements[0]
        locale = member.locale or config.bot.locale
        with transaction(runtime.engine, read_only=True) as session:
            said = Incoming(CONSOLE, agreement.id, member.console or member.id, "dry-run", at)
            turn = Turn(session, config, said, member, agreement, locale, frozenset(), 0)
            lines, problem = preview(turn, path.name, data)
            card = turn.refuse(f"sheet_{problem}", detail=path.name) if problem else (
                preview_card(turn, path.name, lines, ""))  # fmt: skip
        print(card.as_text())
        return 1 if problem else 0
    if not member.console:
        print(f"vmi-bot: {member.id} has no console name to import as", file=sys.stderr)
        return 2
    sent = base64.b64encode(data).decode("ascii")
    shown = _said(runtime, Incoming(CONSOLE, _chat_of(runtime, member), member.console,
                                    f"import-{uuid.uuid4().hex}", at, file_name=path.name,
                                    file_data=sent))  # fmt: skip
    print(shown.as_text())
    if not any(b.action == "confirm_import" for b in shown.buttons):
        return 0 if not shown.refusal else 1  # nothing to record, or why not
    import_id = next(b.value for b in shown.buttons if b.action == "confirm_import")
    done = _said(
        runtime,
        Incoming(
            CONSOLE,
            _chat_of(runtime, member),
            member.console,
            f"import-{uuid.uuid4().hex}",
            at,
            text=f"确认导入 {import_id}",
        ),
    )
    print()
    print(done.as_text())
    return 1 if done.refusal else 0


def _chat_of(runtime: Runtime, member: Member) -> str:
    """The member's first agreement, as the console chat speaks in it."""
    agreements = runtime.config.agreements_of(member)
    return (agreements[0] if agreements else runtime.config.agreements[0]).id


def _said(runtime: Runtime, incoming: Incoming) -> Card:
    """One message through the conversation; its reply, taken out of the console's outbox
    (what it tells others stays there for them)."""
    inbox_id = accept(runtime.engine, incoming)
    assert inbox_id is not None  # a fresh message id
    process(runtime.engine, runtime.config, inbox_id, frozenset({CONSOLE}))
    with transaction(runtime.engine) as session:
        row = session.scalars(
            select(OutboxRow).where(col(OutboxRow.key) == f"reply:{inbox_id}")
        ).first()
        if row is None:
            return Card("")
        session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == row.id)
            .values(state="sent", sent_at=datetime.now(UTC), attempts=col(OutboxRow.attempts) + 1)
        )
        return Card.from_json(row.card)
