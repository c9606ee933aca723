"""`vmi-bot import FILE --as MEMBER [--dry-run]`: a sheet of counts and plans, read and shown
row by row; recorded (as sending it in the console chat and confirming would) unless only
looked at. The same file twice records once."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from bot.adapters.console.chat import ConsoleChat
from bot.runtime.clock import aware, real_clock
from bot.runtime.context import Runtime
from bot.settings import CONSOLE
from bot.storage.db import transaction
from handlers.incoming import Incoming
from handlers.intents.sheet import preview, preview_card
from handlers.turn import Turn


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
    chat = ConsoleChat(runtime, member.console, clock=lambda: at)
    chat.send_file(path)
    chat.say("确认导入")
    return 0
