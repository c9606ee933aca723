"""Stock: counts (盘点), corrections of a mistyped count (更正) and withdrawals (领用)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time

from bot.services import announce
from bot.services.review import review, take_reviews_turn
from bot.storage import held as held_counts
from bot.storage import proposals as stored_proposals
from bot.storage.stock import (
    ItemKey,
    StockLevel,
    hold_items,
    latest_row_id,
    movement_after_count,
    record_count,
    record_withdrawal,
    recorded_after,
    stock_levels,
)
from bot.storage.tables import HeldCountRow
from bot.storage.undo import (
    Undone,
    UndoRefused,
    last_entry_said,
    raised_since,
    said_when,
    undo_last_entry,
)
from handlers.intents.held import held_buttons, held_lines, hold_the_mistyped
from handlers.intents.proposals import standing, tell_the_group
from handlers.parsing import ConfirmCount, Correction, Count, ItemQty, Undo, Withdrawal
from handlers.turn import Turn
from messages.cards import Card
from messages.render import render_card
from messages.words import example, label, state_labels, unit_word
from vmi_rules.ledger import CountOutcome
from vmi_rules.proposal import SYSTEM, TransitionRefused
from vmi_rules.settlement import settlement_period

# A back-dated entry is booked at the end of that day's business: the keeper named the day,
# not the hour, and what the day ended with is what a count of that day means; it also keeps
# the entry after everything else recorded that day and inside that day's settlement period.
END_OF_DAY = time(23, 59, 59)
# How far back an entry may be dated: a week of a keeper's paper notes, no more.
BACK_DAYS = 7


def on_count(turn: Turn, intent: Count | Correction) -> Card:
    """Record each counted item; a drop since the book is a withdrawal, a rise is flagged,
    and a count that looks mistyped is held until the keeper confirms it.

    A correction puts the latest count right: a held one is replaced; a recorded one is taken
    back with the withdrawal it inferred, and the right figure judged against the book before.
    """
    correction = isinstance(intent, Correction)
    on = intent.on if isinstance(intent, Count) else None  # a correction keeps the count's day
    skus = [line.sku for line in intent.lines]
    # everything read next (the day's later entries, what is held, the book) stays so until
    # this commits
    hold_for_counting(turn, intent.lines)
    at = _dated(turn, on, "count", skus)
    if isinstance(at, Card):
        return at
    # a correction of a count still held puts the held one right: the ledger's count stays
    held_typo = (
        {row.sku for row in held_counts.waiting(turn.session, turn.agreement.id)}
        if correction
        else set()
    )
    if correction:  # every line checked before any is written: all of the message or none
        for line in intent.lines:
            moved = movement_after_count(turn.session, turn.agreement.id, line.sku)
            if moved is not None and line.sku not in held_typo:
                return turn.refuse(
                    "moved_since", detail=line.sku, moved=moved.kind,
                    example=example("count", turn.locale).replace("6205", line.sku),
                )  # fmt: skip
    lines, held = intent.lines, list[HeldCountRow]()
    levels: dict[ItemKey, StockLevel] | None = None  # read once by a count, under the locks
    if correction:
        held_counts.supersede(turn.session, turn.agreement.id, skus, turn.now)
    else:
        sorted_count = hold_the_mistyped(turn, intent.lines, at)
        lines, held, levels = sorted_count.recorded, sorted_count.held, sorted_count.levels
    outcomes: dict[str, CountOutcome] = {}
    unbilled: dict[str, int] = {}
    for line in lines:
        recorded = record_count(
            turn.session, turn.agreement.id, line.sku, line.qty, at,
            member_id=turn.member.id, inbox_id=turn.inbox_id,
            correction=correction and line.sku not in held_typo,
            time_doubted=turn.incoming.time_doubted, levels=levels,
        )  # fmt: skip
        outcomes[line.sku] = recorded.outcome
        unbilled[line.sku] = recorded.unbilled
        if levels is not None:  # a count is the book from now on (ledger order is the row id)
            levels[(turn.agreement.id, line.sku)] = StockLevel(line.qty, at)
    kind = "correction" if correction else "count"
    emptied = [line for line in lines if line.qty == 0]
    if emptied:
        return _stock_out(turn, kind, lines, outcomes, unbilled, emptied)
    return _stock_card(turn, kind, lines, outcomes, unbilled, held=held, on=on, levels=levels)


def hold_for_counting(turn: Turn, lines: Sequence[ItemQty], also: Sequence[str] = ()) -> None:
    """Take the items counted (and `also` these) in sku order; when a line is a stock-out, the
    review's turn first, since the review runs at once: the order the review and the overstock
    check (补货检查) take them in, so neither waits on the other in a circle."""
    if any(line.qty == 0 for line in lines):
        take_reviews_turn(turn.session)
    hold_items(turn.session, turn.agreement.id, [*(line.sku for line in lines), *also])


def on_confirm_count(turn: Turn, intent: ConfirmCount) -> Card:
    """The keeper says a held count was right: it is recorded as counted when it was said,
    unless something else of the item was recorded since (then a new count is asked for)."""
    waiting = held_counts.waiting(turn.session, turn.agreement.id, sku=intent.sku)
    if intent.sku is None:  # 是 / yes: the member's own held counts
        waiting = [row for row in waiting if row.member_id == turn.member.id]
    if intent.qty is not None:
        waiting = [row for row in waiting if row.qty == intent.qty]
    hold_items(turn.session, turn.agreement.id, [row.sku for row in waiting])
    for row in waiting:
        if latest_row_id(turn.session, turn.agreement.id, row.sku) != row.after_id:
            recount = example("count", turn.locale).replace("6205", row.sku)
            return turn.refuse("held_moved", detail=row.sku, example=recount)
    confirmed, outcomes = [], {}
    for row in waiting:
        if held_counts.confirm(turn.session, row, turn.now):  # a double click confirms once
            recorded = record_count(turn.session, turn.agreement.id, row.sku, row.qty, row.at,
                                    member_id=row.member_id, inbox_id=row.inbox_id)  # fmt: skip
            confirmed.append(ItemQty(row.sku, row.qty))
            outcomes[row.sku] = recorded.outcome
    if not confirmed:
        return turn.refuse("nothing_held", example=example("count", turn.locale))
    return _stock_card(turn, "count", tuple(confirmed), outcomes)


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
        names.append(item.name_in(turn.config.bot.locale) if item else line.sku)
    alert = render_card("stock_out", turn.config.bot.locale, items=names, by=turn.member.name)
    announce.alert(turn, alert, key=f"stock-out:{turn.inbox_id}")
    results = review(turn.session, turn.config, turn.now, agreement_ids=[turn.agreement.id],
                     platforms=turn.platforms)  # fmt: skip
    proposed = {
        r.item.sku: f"{r.proposal_id} {r.decision.qty} {unit_word(r.item.unit, turn.locale)}"
        for r in results
        if r.decision.action in ("propose", "update") and r.proposal_id
    }
    return _stock_card(turn, kind, lines, outcomes, unbilled, proposed_now=proposed)


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
    """Take back my last entry of today (a count or withdrawal with what it inferred, a
    receipt, a plan, or a proposal step the other side has not acted on); say what was undone
    and the figures after."""
    local = turn.now.astimezone(turn.agreement.tz)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    mine = held_counts.waiting(turn.session, turn.agreement.id, member_id=turn.member.id)
    newer = last_entry_said(turn.session, turn.agreement.id, turn.member.id, today)
    if mine and (newer is None or newer <= said_when(turn.session, mine[-1].inbox_id, mine[-1].at)):
        # the last thing said was a count still held: it goes, and nothing was recorded
        last = mine[-1]
        hold_items(turn.session, turn.agreement.id, [last.sku])  # the item first, as a count
        if held_counts.drop(turn.session, last, turn.now):
            item = turn.agreement.item(last.sku)
            name, unit = (item.name_in(turn.locale), item.unit) if item else (last.sku, "")
            return turn.card("undone", kind="held", item_name=name, unit=unit, qty=last.qty,
                             unbilled=0, on_hand=0)  # fmt: skip
        # confirmed meanwhile (it is a count in the ledger now) or replaced: undo what stands
    try:
        undone = undo_last_entry(turn.session, turn.agreement.id, turn.actor, today, turn.now,
                                 inbox_id=turn.inbox_id)  # fmt: skip
    except UndoRefused as refused:
        context = dict(refused.context)
        if "action" in context:
            context["intent_label"] = label(context["action"], turn.locale)
        if "state" in context:
            context["state_label"] = state_labels(turn.locale).get(context["state"], "")
        shown = _count_example(turn) if refused.reason == "undo_moved" else ""
        return turn.refuse(refused.reason, example=shown, **context)
    if undone is None:
        return turn.refuse("nothing_to_undo", example=_count_example(turn))
    item = turn.agreement.item(undone.sku)
    withdrawn = _withdraw_what_it_raised(turn, undone)
    on_hand, position = standing(turn, undone.sku)
    figures: dict[str, object] = {}
    if undone.proposal is not None:
        proposal = stored_proposals.as_rule(undone.proposal)
        figures = {
            "proposal_id": proposal.id, "state_label": state_labels(turn.locale)[proposal.state],
            "ordered": proposal.qty, "received": proposal.received_qty,
            "outstanding": proposal.outstanding, "shipped_qty": proposal.shipped_qty,
            "to_ship": proposal.to_ship,
        }  # fmt: skip
    context = dict(
        kind=undone.kind,
        item_name=item.name_in(turn.locale) if item else undone.sku,
        unit=item.unit if item else "",
        qty=undone.qty,
        unbilled=undone.unbilled,
        on_hand=on_hand,
        position=position,
        period=undone.period,
        plan_now=undone.plan_now,
        previous_qty=undone.previous_qty,
        withdrawn=withdrawn,
        **figures,
    )
    if undone.proposal is not None:  # the other side saw the step: they hear it was taken back
        tell_the_group(turn, undone.proposal, turn.card("undone", by=turn.member.name, **context))
    return turn.card("undone", **context)


def _withdraw_what_it_raised(turn: Turn, undone: Undone) -> list[dict[str, object]]:
    """A count or withdrawal taken back takes back the proposals it raised (a stock-out reviews
    at once) while nobody has acted on them and the item no longer needs them: each expires,
    and the group that saw its card hears so."""
    item = turn.agreement.item(undone.sku)
    if undone.said_at is None or item is None or undone.kind not in ("count", "withdrawal"):
        return []
    withdrawn: list[dict[str, object]] = []
    for row in raised_since(turn.session, turn.agreement.id, undone.sku, undone.said_at):
        _, position = standing(turn, undone.sku)
        if position - stored_proposals.as_rule(row).outstanding < item.min:
            continue  # still below min without it: the review would raise it again
        public = stored_proposals.public_id(row.id)
        try:
            after, _ = stored_proposals.act(turn.session, public, "expire", SYSTEM, turn.now,
                                            inbox_id=turn.inbox_id)  # fmt: skip
        except TransitionRefused:
            continue  # acted on meanwhile (a buyer confirmed it): it stands
        shown = {"proposal_id": public, "qty": row.qty}
        withdrawn.append(shown)
        name = item.name_in(turn.locale)
        card = turn.card("proposal_withdrawn", item_name=name, unit=item.unit,
                         by=turn.member.name, **shown)  # fmt: skip
        tell_the_group(turn, after, card)
    return withdrawn


def _count_example(turn: Turn) -> str:
    """A count of this agreement's first item, as the example to type."""
    items = turn.agreement.items
    return example("count", turn.locale).replace("6205", items[0].sku if items else "6205")


def on_withdrawal(turn: Turn, intent: Withdrawal) -> Card:
    """Record withdrawals (领用) posted explicitly; never more than is on hand."""
    skus = [line.sku for line in intent.lines]
    # what is on hand and the day's later entries stay so until this is written
    hold_items(turn.session, turn.agreement.id, skus)
    at = _dated(turn, intent.on, "withdrawal", skus)
    if isinstance(at, Card):
        return at
    levels = stock_levels(turn.session, [turn.agreement.id], skus)
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
    proposed_now: Mapping[str, str] | None = None,
    held: list[HeldCountRow] | None = None,
    on: date | None = None,
    levels: Mapping[ItemKey, StockLevel] | None = None,
) -> Card:
    """The reply to a count, a correction or a withdrawal; `proposed_now`: what the review
    run by a stock-out proposed, per sku (present only after a stock-out); `levels`: the
    items' books as they are now, when the caller knows them."""
    if levels is None:
        levels = stock_levels(turn.session, [turn.agreement.id])
    open_ids = stored_proposals.open_ids(turn.session, turn.agreement.id)
    shown = []
    for line in lines:
        item = turn.agreement.item(line.sku)
        assert item is not None
        key = (turn.agreement.id, item.sku)
        outcome = outcomes.get(item.sku)
        shown.append(
            {
                "name": item.name_in(turn.locale),
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
                "open": "、".join(map(stored_proposals.public_id, open_ids.get(item.sku, []))),
            }
        )
    return turn.card("stock", kind=kind, lines=shown, time_doubted=turn.incoming.time_doubted,
                     held=held_lines(turn, held or []), buttons=held_buttons(held or []),
                     received_at=turn.now.astimezone(turn.agreement.tz), on=on)  # fmt: skip
