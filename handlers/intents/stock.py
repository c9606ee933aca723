"""Stock: counts (盘点), corrections of a mistyped count (更正) and withdrawals (领用)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time

from bot.storage import proposals as stored_proposals
from bot.storage.stock import (
    MovedSince,
    movement_after_count,
    record_count,
    record_withdrawal,
    recorded_after,
    stock_levels,
    undo_last,
)
from handlers.parsing import Correction, Count, ItemQty, Undo, Withdrawal
from handlers.turn import Turn
from messages.cards import Card
from messages.words import example
from vmi_rules.ledger import CountOutcome
from vmi_rules.settlement import settlement_period

# A back-dated entry is booked at the end of that day's business: the keeper named the day,
# not the hour, and what the day ended with is what a count of that day means; it also keeps
# the entry after everything else recorded that day and inside that day's settlement period.
END_OF_DAY = time(23, 59, 59)
# How far back an entry may be dated: a week of a keeper's paper notes, no more.
BACK_DAYS = 7


def on_count(turn: Turn, intent: Count | Correction) -> Card:
    """Record each counted item; a drop since the book is a withdrawal, a rise is flagged.

    A correction puts a mistyped count right: the level is set, no withdrawal is inferred or
    billed.
    """
    correction = isinstance(intent, Correction)
    on = intent.on if isinstance(intent, Count) else None  # a correction keeps the count's day
    at = _dated(turn, on, "count", [line.sku for line in intent.lines])
    if isinstance(at, Card):
        return at
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
            turn.session, turn.agreement.id, line.sku, line.qty, at,
            member_id=turn.member.id, inbox_id=turn.inbox_id, correction=correction,
            time_doubted=turn.incoming.time_doubted,
        )  # fmt: skip
        outcomes[line.sku] = recorded.outcome
        unbilled[line.sku] = recorded.unbilled
    kind = "correction" if correction else "count"
    return _stock_card(turn, kind, intent.lines, outcomes, unbilled, on=on)


def _dated(turn: Turn, on: date | None, kind: str, skus: list[str]) -> datetime | Card:
    """When an entry is booked: now, or the end of the day it names; or why it cannot be.

    A back-dated entry goes at most BACK_DAYS back and not into a period already settled. A
    count must be the item's latest entry (a count before later ones would infer a withdrawal
    from the wrong book), and a withdrawal must come after the latest count (which already
    holds it: it would be billed twice).
    """
    if on is None:
        return turn.now
    tz = turn.agreement.tz
    local_now = turn.now.astimezone(tz)
    day = on.strftime("%m-%d")
    example_text = example(kind, turn.locale).replace("6205", skus[0])
    if (local_now.date() - on).days > BACK_DAYS:
        return turn.refuse("too_far_back", detail=day, days=BACK_DAYS, example=example_text)
    at = datetime.combine(on, END_OF_DAY, tzinfo=tz)
    _, cutoff = settlement_period(local_now, turn.agreement.terms.settlement_day)
    if at < cutoff:  # that period's statement is out: the entry would never be billed
        return turn.refuse("settled_period", detail=day, cutoff=cutoff.strftime("%m-%d"),
                           example=example_text)  # fmt: skip
    for sku in skus:
        later = recorded_after(turn.session, turn.agreement.id, sku, at,
                               kinds=None if kind == "count" else ("count",))  # fmt: skip
        if later is not None:
            return turn.refuse(
                "recorded_later", detail=sku, day=day, moved=later.kind, kind=kind,
                later=later.at.replace(tzinfo=later.at.tzinfo or UTC).astimezone(tz)
                .strftime("%m-%d %H:%M"),
                example=example("count", turn.locale).replace("6205", sku),
            )  # fmt: skip
    return at.astimezone(UTC)


def on_undo(turn: Turn, intent: Undo) -> Card:
    """Take back my last count or withdrawal of today, with what it inferred; say what was
    undone and the figures after."""
    local = turn.now.astimezone(turn.agreement.tz)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        undone = undo_last(turn.session, turn.agreement.id, turn.member.id, today, turn.now,
                           inbox_id=turn.inbox_id)  # fmt: skip
    except MovedSince as moved:
        return turn.refuse("undo_moved", moved=moved.kind, example=_count_example(turn))
    if undone is None:
        return turn.refuse("nothing_to_undo", example=_count_example(turn))
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


def _count_example(turn: Turn) -> str:
    """A count of this agreement's first item, as the example to type."""
    items = turn.agreement.items
    return example("count", turn.locale).replace("6205", items[0].sku if items else "6205")


def on_withdrawal(turn: Turn, intent: Withdrawal) -> Card:
    """Record withdrawals (领用) posted explicitly; never more than is on hand."""
    at = _dated(turn, intent.on, "withdrawal", [line.sku for line in intent.lines])
    if isinstance(at, Card):
        return at
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
            turn.session, turn.agreement.id, line.sku, line.qty, at,
            member_id=turn.member.id, inbox_id=turn.inbox_id,
            time_doubted=turn.incoming.time_doubted,
        )  # fmt: skip
    return _stock_card(turn, "withdrawal", intent.lines, {}, on=intent.on)


def _stock_card(
    turn: Turn,
    kind: str,
    lines: tuple[ItemQty, ...],
    outcomes: Mapping[str, CountOutcome],
    unbilled: Mapping[str, int] | None = None,
    on: date | None = None,
) -> Card:
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
                "open": "、".join(stored_proposals.public_id(r.id) for r in open_rows.get(key, [])),
            }
        )
    return turn.card("stock", kind=kind, lines=shown, time_doubted=turn.incoming.time_doubted,
                     received_at=turn.now.astimezone(turn.agreement.tz), on=on)  # fmt: skip
