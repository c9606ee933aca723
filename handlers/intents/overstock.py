"""The choices on an overstock alert (积压 O1): return units to the supplier, a discount price
for them, or keep watching; made once by the buyer's or the supplier's side, and heard by the
group."""

from __future__ import annotations

from typing import Any

from bot.services.announce import group_messages
from bot.storage import overstock as stored
from bot.storage.outbox import enqueue_all
from bot.storage.stock import hold_item, movements_by_item, record_return, stock_levels
from bot.storage.tables import OverstockAlertRow
from handlers.parsing import OverstockChoice
from handlers.turn import Turn
from messages.cards import Card
from messages.render import render_card
from messages.words import example
from vmi_rules.overstock import aged_stock, check_discount, check_return, may_choose
from vmi_rules.terms import Item


def on_overstock_choice(turn: Turn, intent: OverstockChoice) -> Card:
    """Record the choice on the alert, once; a return is a ledger movement back to the
    supplier (the oldest units, never billed), a discount the price those units are billed at."""
    row = stored.get(turn.session, intent.alert_id)
    item = turn.agreement.item(row.sku) if row is not None else None
    if row is None or item is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_overstock", detail=intent.alert_id)
    hold_item(turn.session, row.agreement_id, row.sku)  # choices and ledger writes take turns
    if not may_choose(stored.as_rule(row)):
        return _decided(turn, row)
    key = (row.agreement_id, row.sku)
    history = movements_by_item(turn.session, [row.agreement_id]).get(key, [])
    limit = turn.agreement.terms.overstock_days
    aged = aged_stock(history, turn.now, limit)
    aged_qty = aged.qty if aged is not None else 0
    level = stock_levels(turn.session, [row.agreement_id], [row.sku]).get(key)
    on_hand = level.on_hand if level is not None else 0
    facts: dict[str, Any] = {"detail": item.sku, "aged": aged_qty, "unit": item.unit,
                             "limit": limit, "unit_price": f"{item.unit_price:.2f}"}  # fmt: skip
    qty = aged_qty
    if intent.choice == "return":
        qty = intent.qty or 0
        why = check_return(qty, aged_qty)
        if why is not None:
            typed = example("overstock_return", turn.locale).replace(" 20", f" {aged_qty}")
            return turn.refuse(why, qty=qty, example=typed.replace("O1", intent.alert_id), **facts)
    elif intent.choice == "discount":
        if intent.price is None:
            return turn.refuse("discount_needs_price", **{**facts, "detail": intent.alert_id},
                               example=example("overstock_discount", turn.locale)
                               .replace("O1", intent.alert_id))  # fmt: skip
        if not check_discount(intent.price, item.unit_price):
            return turn.refuse("discount_price", **{**facts, "detail": str(intent.price)})
        if aged_qty <= 0:
            return turn.refuse("nothing_aged", **facts)
    decision = stored.Decision(intent.choice, turn.member.id, turn.now, qty, intent.price,
                               turn.inbox_id)  # fmt: skip
    recorded = stored.decide(turn.session, row, decision)
    if recorded is None:  # someone decided it a moment ago
        return _decided(turn, row)
    if intent.choice == "return":
        note = f"overstock {intent.alert_id}: back to the supplier"
        moved = record_return(turn.session, row.agreement_id, row.sku, qty, turn.now,
                              turn.member.id, turn.inbox_id, note=note)  # fmt: skip
        recorded.ledger_id = moved
        turn.session.add(recorded)
        on_hand -= qty
    context: dict[str, Any] = {
        "alert_id": intent.alert_id, "choice": intent.choice, "by": turn.member.name,
        "item_name": item.name_in(turn.locale), "unit": item.unit, "qty": qty,
        "on_hand": on_hand,
        "price": str(intent.price) if intent.price is not None else "",
        "unit_price": f"{item.unit_price:.2f}",
    }  # fmt: skip
    _tell_the_group(turn, row, item, recorded.id, context)
    return turn.card("overstock_decision", **context)


def _tell_the_group(
    turn: Turn,
    row: OverstockAlertRow,
    item: Item,
    decision_id: int | None,
    context: dict[str, Any],
) -> None:
    """Both sides hear the decision in the agreement's group (not again in the chat where it
    was made: the reply says it there)."""
    card = render_card("overstock_decision", turn.config.bot.locale, **context)
    asked_in = (turn.incoming.platform, turn.incoming.chat)
    key = f"overstock:{stored.public_id(row.id)}:decided:{decision_id}"
    messages = [
        m
        for m in group_messages(turn.config, turn.agreement, card, turn.now, turn.platforms, key)
        if (m.destination.platform, m.destination.chat) != asked_in
    ]
    enqueue_all(turn.session, messages)


def _decided(turn: Turn, row: OverstockAlertRow) -> Card:
    """Already decided: by whom, which, when; nothing changes."""
    member = turn.config.member(row.decided_by or "")
    when = row.decided_at.astimezone(turn.agreement.tz) if row.decided_at else None
    return turn.refuse(
        "overstock_decided",
        detail=stored.public_id(row.id),
        decided_by=member.name if member else (row.decided_by or ""),
        choice=row.choice or "",
        decided_at=f"{when:%m-%d %H:%M}" if when else "",
    )
