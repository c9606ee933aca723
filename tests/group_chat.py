"""The agreement's console group as the conversation tests use it: the example agreement in
Chinese (`rt`) or English (`rt_en`) on a real SQLite file, a message said at a chosen time, and
the cards it queued."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from handlers.conversation import handle
from handlers.incoming import Incoming
from messages.cards import Card
from tests.support import EXAMPLE, shanghai

message_ids = itertools.count(1)
T0 = shanghai(2026, 11, 21, 10, 0)


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


@pytest.fixture
def rt_en(tmp_path: Path) -> Runtime:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"', 1),
        encoding="utf-8",
    )
    return start(str(english), f"sqlite:///{tmp_path / 'en.sqlite'}")


def posted(
    rt: Runtime, sender: str, text: str, at: datetime = T0, chat: str = "plant-6205"
) -> list[tuple[str, Card]]:
    """One message; every card it queued, with the chat it goes to."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    said = Incoming("console", chat, sender, f"m{next(message_ids)}", at, text)
    handle(rt.engine, rt.config, said)
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        return [(r.chat, Card.from_json(r.card)) for r in rows]


def say(rt: Runtime, sender: str, text: str, at: datetime = T0) -> Card:
    """One message in the group; the reply to it (the last card it queued)."""
    return posted(rt, sender, text, at)[-1][1]


def text_of(card: Card) -> str:
    return "\n".join((card.title, *card.lines))
