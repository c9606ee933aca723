"""Counts that look mistyped (90 → 9, or 1,000 against a max of 100) are held back: nothing is
recorded or billed until the keeper confirms them (the button, or 是 / yes: see
`handlers.intents.stock.on_confirm_count`) or puts them right (更正); a new count of the item
replaces the held one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage import held as held_counts
from bot.storage.stock import (
    ItemKey,
    StockLevel,
    book_before_count,
    book_of,
    latest_row_id,
    stock_levels,
)
from bot.storage.tables import HeldCountRow
from handlers.parsing import ItemQty
from handlers.turn import Turn
from messages.cards import ButtonStyle
from vmi_rules.ledger import looks_mistyped

CONFIRM_COUNT = "confirm_count"  # the held count's button: its value is "sku@qty"


@dataclass(frozen=True)
class SortedCount:
    """A count's lines sorted: those to record now, those held back, and the book of its items
    as read under their locks (a recorded line updates it, so the reply reads nothing again)."""

    recorded: tuple[ItemQty, ...]
    held: list[HeldCountRow]
    levels: dict[ItemKey, StockLevel]


def hold_the_mistyped(turn: Turn, lines: tuple[ItemQty, ...], at: datetime) -> SortedCount:
    """The lines to record now, and those held back as mistyped (stored to be confirmed, as
    counted at `at`). Whatever was held for these items before is replaced: this count is the
    newer word. The caller holds the items (`hold_items`): the book read here stays the book
    until this commits."""
    skus = [line.sku for line in lines]
    held_counts.supersede(turn.session, turn.agreement.id, skus, turn.now)
    recorded, held = [], []
    # the book of every item in one read: a pasted sheet has many lines
    levels = stock_levels(turn.session, [turn.agreement.id], skus)
    for line in lines:
        item = turn.agreement.item(line.sku)
        book = book_of(levels.get((turn.agreement.id, line.sku)))
        reason = looks_mistyped(book, line.qty, item.max if item else 0)
        if reason is None:
            recorded.append(line)
            continue
        held.append(
            held_counts.hold(
                turn.session,
                turn.agreement.id,
                line.sku,
                line.qty,
                reason,
                at,
                member_id=turn.member.id,
                inbox_id=turn.inbox_id,
                after_id=latest_row_id(turn.session, turn.agreement.id, line.sku),
            )
        )
    return SortedCount(tuple(recorded), held, levels)


def held_lines(turn: Turn, held: list[HeldCountRow]) -> list[dict[str, object]]:
    """What the reply says of each held count."""
    shown = []
    for row in held:
        item = turn.agreement.item(row.sku)
        book = book_before_count(turn.session, turn.agreement.id, row.sku)
        shown.append(
            {
                "sku": row.sku,
                "name": item.name_in(turn.locale) if item else row.sku,
                "unit": item.unit if item else "",
                "qty": row.qty,
                "book": book if book is not None else 0,
                "max": item.max if item else 0,
                "reason": row.reason,
            }
        )
    return shown


def held_buttons(held: list[HeldCountRow]) -> tuple[tuple[str, str, ButtonStyle], ...]:
    """One confirm button per held count."""
    return tuple((CONFIRM_COUNT, f"{row.sku}@{row.qty}", "primary") for row in held)
