"""Stock: counts (盘点), corrections of a mistyped count (更正) and withdrawals (领用)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.services import announce
from bot.services.review import review
from bot.storage import proposals as stored_proposals
from bot.storage.stock import (
    MovedSince,
    movement_after_count,
    record_count,
    record_withdrawal,
    stock_levels,
    undo_last,
)
from handlers.parsing import Correction, Count, ItemQty, Undo, Withdrawal
from handlers.turn import Turn
from messages.cards import Card
from messages.render import render_card
from messages.words import example
from vmi_rules.ledger import CountOutcome


def on_count(turn: Turn, intent: Count | Correction) -> Card:
    """Record each counted item; a drop since the book is a withdrawal, a rise is flagged.

    A correction puts a mistyped count right: the level is set, no withdrawal is inferred or
    billed.
    """
    correction = isinstance(intent, Correction)
    if correction:  # every line checked before any is written: all of the message or none
        for line in intent.lines:
            moved = movement_after_count(turn.session, turn.agreement.id, line.sku)
            if moved is not None:
                return turn.refuse(
                    "moved_since", detail=line.sku, moved=moved.kind,
                    example=example("count", turn.locale).replace("6205", line.sku),
                )  # fmt: skip
    outcomes: dict[str, CountOutcome] = {}
    unbilled: dict[str, int] = {}
    for line in intent.lines:
        recorded = record_count(
            turn.session, turn.agreement.id, line.sku, line.qty, turn.now,
            member_id=turn.member.id, inbox_id=turn.inbox_id, correction=correction,
            time_doubted=turn.incoming.time_doubted,
        )  # fmt: skip
        outcomes[line.sku] = recorded.outcome
        unbilled[line.sku] = recorded.unbilled
    kind = "correction" if correction else "count"
    emptied = [line for line in intent.lines if line.qty == 0]
    if emptied:
        return _stock_out(turn, kind, intent.lines, outcomes, unbilled, emptied)
    return _stock_card(turn, kind, intent.lines, outcomes, unbilled)


def _stock_out(
    turn: Turn,
    kind: str,
    lines: tuple[ItemQty, ...],
    outcomes: Mapping[str, CountOutcome],
    unbilled: Mapping[str, int],
    emptied: list[ItemQty],
) -> Card:
    """A count of 0 is a stock-out: the buyer and the supplier hear it at once, and the review
    runs now rather than at its next turn."""
    names = []
    for line in emptied:
        item = turn.agreement.item(line.sku)
        names.append(item.name if item else line.sku)
    alert = render_card("stock_out", turn.config.bot.locale, items=names, by=turn.member.name)
    announce.alert(turn, alert, key=f"stock-out:{turn.inbox_id}")
    results = review(turn.session, turn.config, turn.now, agreement_ids=[turn.agreement.id],
                     platforms=turn.platforms)  # fmt: skip
    proposed = {
        r.item.sku: f"{r.proposal_id} {r.decision.qty} {r.item.unit}"
        for r in results
        if r.decision.action in ("propose", "update") and r.proposal_id
    }
    return _stock_card(turn, kind, lines, outcomes, unbilled, proposed_now=proposed)


def on_undo(turn: Turn, intent: Undo) -> Card:
    """Take back my last count or withdrawal of today, with what it inferred; say what was
    undone and the figures after."""
    local = turn.now.astimezone(turn.agreement.tz)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        undone = undo_last(turn.session, turn.agreement.id, turn.member.id, today, turn.now,
                           inbox_id=turn.inbox_id)  # fmt: skip
    except MovedSince as moved:
        return turn.refuse("undo_moved", moved=moved.kind, example=example("count", turn.locale))
    if undone is None:
        return turn.refuse("nothing_to_undo", example=example("count", turn.locale))
    item = turn.agreement.item(undone.sku)
    level = stock_levels(turn.session, [turn.agreement.id], [undone.sku]).get(
        (turn.agreement.id, undone.sku)
    )
    return turn.card(
        "undone",
        kind=undone.kind,
        item_name=item.name if item else undone.sku,
        unit=item.unit if item else "",
        qty=undone.qty,
        unbilled=undone.unbilled,
        on_hand=level.on_hand if level else 0,
    )


def on_withdrawal(turn: Turn, intent: Withdrawal) -> Card:
    """Record withdrawals (领用) posted explicitly; never more than is on hand."""
    levels = stock_levels(turn.session, [turn.agreement.id], [line.sku for line in intent.lines])
    for line in intent.lines:
        level = levels.get((turn.agreement.id, line.sku))
        on_hand = level.on_hand if level else 0
        if line.qty > on_hand:  # the book is behind the shelf: a count, not a negative stock
            item = turn.agreement.item(line.sku)
            return turn.refuse(
                "over_stock", detail=str(line.qty), on_hand=on_hand, unit=item.unit if item else "",
                example=example("count", turn.locale).replace("6205", line.sku),
            )  # fmt: skip
    for line in intent.lines:
        record_withdrawal(
            turn.session, turn.agreement.id, line.sku, line.qty, turn.now,
            member_id=turn.member.id, inbox_id=turn.inbox_id,
            time_doubted=turn.incoming.time_doubted,
        )  # fmt: skip
    return _stock_card(turn, "withdrawal", intent.lines, {})


def _stock_card(
    turn: Turn,
    kind: str,
    lines: tuple[ItemQty, ...],
    outcomes: Mapping[str, CountOutcome],
    unbilled: Mapping[str, int] | None = None,
    proposed_now: Mapping[str, str] | None = None,
) -> Card:
    """The reply to a count, a correction or a withdrawal; `proposed_now`: what the review
    run by a stock-out proposed, per sku (present only after a stock-out)."""
    levels = stock_levels(turn.session, [turn.agreement.id])
    open_rows = stored_proposals.open_proposals(turn.session, [turn.agreement.id])
    shown = []
    for line in lines:
        item = turn.agreement.item(line.sku)
        assert item is not None
        key = (turn.agreement.id, item.sku)
        outcome = outcomes.get(item.sku)
        shown.append(
            {
                "name": item.name,
                "sku": item.sku,
                "unit": item.unit,
                "qty": line.qty,
                "on_hand": levels[key].on_hand if key in levels else 0,
                "min": item.min,
                "max": item.max,
                "inferred": outcome.withdrawn if outcome else 0,
                "gain": outcome.gain if outcome else 0,
                "unbilled": (unbilled or {}).get(item.sku, 0),
                "stock_out": proposed_now is not None and line.qty == 0,
                "proposed_now": (proposed_now or {}).get(item.sku, ""),
                "open": "、".join(stored_proposals.public_id(r.id) for r in open_rows.get(key, [])),
            }
        )
    return turn.card("stock", kind=kind, lines=shown, time_doubted=turn.incoming.time_doubted,
                     received_at=turn.now.astimezone(turn.agreement.tz))  # fmt: skip
