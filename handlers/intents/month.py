"""The month: the review in figures (复盘, with its chart) and the suggested min/max (建议).
Both are questions: they record nothing."""

from __future__ import annotations

from dataclasses import replace

from bot.services.retro import last_closed_month, retro, retro_card, retro_chart, suggestion_card
from bot.services.retro import suggestion_for as suggested
from bot.storage.stock import movements_by_item
from handlers.parsing import Retro, Suggest
from handlers.turn import Turn
from messages.cards import Card


def on_retro(turn: Turn, intent: Retro) -> Card:
    """The review of the month named (or of the last settlement period closed), with the
    chart of daily on hand against min and max."""
    month = intent.month or last_closed_month(turn.agreement, turn.now)
    try:
        done = retro(turn.session, turn.agreement, month, turn.now)
    except ValueError:
        last = last_closed_month(turn.agreement, turn.now)
        return turn.refuse("bad_month", detail=month, last_month=last)
    card = retro_card(done, turn.agreement, turn.locale)
    return replace(card, image=Card.png(retro_chart(done, turn.locale)),
                   image_name=f"retro-{turn.agreement.id}-{month}.png")  # fmt: skip


def on_suggest(turn: Turn, intent: Suggest) -> Card:
    """The suggested min and max of one item (or each), the figures behind it, and what to
    type to propose the change."""
    history = movements_by_item(turn.session, [turn.agreement.id])
    cards = []
    for item in turn.agreement.items:
        if intent.sku not in (None, item.sku):
            continue
        movements = history.get((turn.agreement.id, item.sku), [])
        found = suggested(turn.agreement, item, movements, turn.now)
        cards.append(suggestion_card(turn.agreement, item, found, turn.locale))
    first, *more = cards
    # several items: one card, each item's lines after a blank line of its title
    lines = list(first.lines)
    for other in more:
        lines += ["", other.title, *other.lines]
    return replace(first, lines=tuple(lines))
