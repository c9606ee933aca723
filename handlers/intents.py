"""The table of intents: each one a small function from a parsed message to state changes
and a reply card, inside the turn's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from bot.config import AgreementConfig
from bot.services.review import proposal_card_key, review
from bot.services.status import status
from bot.storage import proposals as stored_proposals
from bot.storage.outbox import enqueue, proposal_destinations
from bot.storage.plans import set_plan
from bot.storage.stock import record_count, record_withdrawal, stock_levels
from bot.storage.tables import ProposalRow
from handlers.parsing import (
    Correction,
    Count,
    Emergency,
    Help,
    Plan,
    ProposalAction,
    Receipt,
    Refusal,
    ReviewNow,
    Status,
    Withdrawal,
)
from messages.cards import Card
from messages.render import proposal_buttons, render_card
from messages.words import example, label, role_label, state_labels
from vmi_rules.emergency import emergency_top_up
from vmi_rules.periods import parse_period
from vmi_rules.proposal import Actor, ProposalState, TransitionRefused, position
from vmi_rules.terms import Item

if TYPE_CHECKING:  # the conversation imports this table; only type checkers need Turn here
    from handlers.conversation import Turn


def intent_name(intent: object) -> str:
    """The intent's name in the role table."""
    if isinstance(intent, ProposalAction):
        return intent.action
    return {
        Count: "count",
        Correction: "count",
        Withdrawal: "withdrawal",
        Receipt: "receipt",
        Plan: "plan",
        Emergency: "emergency",
        Status: "status",
        Help: "help",
        ReviewNow: "review",
    }[type(intent)]


def run(turn: Turn, intent: object) -> Card:
    """Do what the message asks and say what changed."""
    return HANDLERS[type(intent)](turn, intent)


def actor(turn: Turn) -> Actor:
    """The member as the rules see them."""
    return Actor(turn.member.id, turn.member.name, turn.member.role)


def help_card(turn: Turn, puzzled: str = "") -> Card:
    """What this member can type, for their role (after `puzzled`, a text not understood)."""
    skus = [item.sku for item in turn.agreement.items] or ["6205"]
    return turn.card(
        "help",
        member_name=turn.member.name,
        role=turn.member.role,
        role_label=role_label(turn.member.role, turn.locale),
        sku=skus[0],
        others=skus[1:2],
        items=item_labels(turn.agreement),
        puzzled=puzzled,
    )


def refusal_card(turn: Turn, refusal: Refusal) -> Card:
    """Why the text was not taken, and what to type instead."""
    reason = refusal.reason
    if reason == "bad_period" and _has_passed(refusal.detail, turn):
        reason = "past_period"  # a real period, only over: say that, not "unreadable"
    return turn.refuse(reason, detail=refusal.detail, example=example(refusal.hint, turn.locale))


def _has_passed(text: str, turn: Turn) -> bool:
    if text.strip() in ("上月", "上周", "last month", "last week"):
        return True
    try:
        period = parse_period(text)
    except ValueError:
        return False
    return period.end <= turn.now.astimezone(turn.agreement.tz).date()


def item_labels(agreement: AgreementConfig) -> list[str]:
    """How the items are listed to people: sku and name."""
    return [i.sku if i.name.startswith(i.sku) else f"{i.sku} {i.name}" for i in agreement.items]


# --- stock -------------------------------------------------------------------------------------


def on_count(turn: Turn, intent: Count) -> Card:
    """Record each counted item; a drop since the book is a withdrawal, a rise is flagged."""
    outcomes = {}
    for line in intent.lines:
        recorded = record_count(
            turn.session, turn.agreement.id, line.sku, line.qty, turn.now,
            member_id=turn.member.id, inbox_id=turn.inbox_id,
        )  # fmt: skip
        outcomes[line.sku] = recorded.outcome
    return _stock_card(turn, "count", intent.lines, outcomes)


def on_correction(turn: Turn, intent: Correction) -> Card:
    """Put a mistyped count right: the level is set, no withdrawal is inferred or billed."""
    for line in intent.lines:
        record_count(
            turn.session, turn.agreement.id, line.sku, line.qty, turn.now,
            member_id=turn.member.id, inbox_id=turn.inbox_id, correction=True,
        )  # fmt: skip
    return _stock_card(turn, "correction", intent.lines, {})


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
        )  # fmt: skip
    return _stock_card(turn, "withdrawal", intent.lines, {})


def _stock_card(turn: Turn, kind: str, lines: Any, outcomes: dict[str, Any]) -> Card:
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
                "open": "、".join(stored_proposals.public_id(r.id) for r in open_rows.get(key, [])),  # type: ignore[arg-type]
            }
        )
    return turn.card("stock", kind=kind, lines=shown)


# --- proposals ---------------------------------------------------------------------------------


def on_receipt(turn: Turn, intent: Receipt) -> Card:
    """The keeper takes in a proposal's goods, whole or in part."""
    return _act(turn, intent.proposal_id, "receive", qty=intent.qty)


def on_proposal_action(turn: Turn, intent: ProposalAction) -> Card:
    """Confirm, adjust, reject or ship a proposal: once, by someone allowed to."""
    options: dict[str, Any] = {}
    if intent.action == "adjust" and intent.qty is None:
        # a button with no box for the number (WeCom cards): say what to type instead
        return turn.refuse("ambiguous", example=example("adjust", turn.locale, intent.proposal_id))
    if intent.action == "adjust":
        options["qty"] = intent.qty
    elif intent.action == "reject":
        options["reason"] = intent.reason
    elif intent.action == "ship":
        options["eta"] = intent.eta
    shown = intent.qty if intent.action == "confirm" else None  # what the pressed card said
    return _act(turn, intent.proposal_id, intent.action, shown_qty=shown, **options)


def _act(
    turn: Turn, proposal_id: str, action: str, shown_qty: int | None = None, **options: Any
) -> Card:
    row = stored_proposals.get(turn.session, proposal_id)
    if row is not None and row.agreement_id != turn.agreement.id:
        # a one-to-one chat belongs to no agreement: the proposal says which one it is about
        theirs = [a for a in turn.config.agreements_of(turn.member) if a.id == row.agreement_id]
        turn = replace(turn, agreement=theirs[0]) if theirs else turn
    if row is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_proposal", detail=proposal_id)
    if shown_qty is not None and shown_qty != row.qty and row.state == "proposed":
        # an older card: the review has resized it since, so that button confirms nothing
        return turn.refuse(
            "changed", proposal_id=proposal_id.upper(), qty=row.qty, shown=shown_qty,
            example=example("confirm", turn.locale, proposal_id.upper()),
        )  # fmt: skip
    previous_qty = row.qty
    try:
        row, transition = stored_proposals.act(
            turn.session, proposal_id, action, actor(turn), turn.now, **options
        )
    except TransitionRefused as refused:
        if refused.reason == "bad_quantity":
            return turn.refuse("bad_quantity", detail=str(options.get("qty")))
        return turn.refuse(
            refused.reason,
            proposal_id=proposal_id.upper(),
            decided_by=refused.decided_by,
            state_label=state_labels(turn.locale)[refused.state.value],
            intent_label=label(action, turn.locale),
        )
    item = turn.agreement.item(row.sku)
    assert item is not None
    on_hand, current = _standing(turn, item.sku)
    return turn.card(
        "proposal_action",
        action=action,
        proposal_id=stored_proposals.public_id(row.id),  # type: ignore[arg-type]
        by=turn.member.name,
        item_name=item.name,
        unit=item.unit,
        qty=row.qty,
        previous_qty=previous_qty,
        reason=row.reject_reason,
        eta=row.eta.isoformat() if row.eta else "",
        eta_past=bool(row.eta and row.eta < turn.now.astimezone(turn.agreement.tz).date()),
        received=transition.qty,
        on_hand=on_hand,
        position=current,
        min=item.min,
        max=item.max,
        outstanding=transition.after.outstanding,
        over=max(0, transition.after.received_qty - transition.after.qty),
    )


def _standing(turn: Turn, sku: str) -> tuple[int, int]:
    """Where an item stands now: on hand, and the position with its open proposals."""
    key = (turn.agreement.id, sku)
    level = stock_levels(turn.session, [turn.agreement.id], [sku]).get(key)
    open_rows = stored_proposals.open_proposals(turn.session, [turn.agreement.id]).get(key, [])
    on_hand = level.on_hand if level else 0
    return on_hand, position(on_hand, [stored_proposals.as_rule(r) for r in open_rows])


# --- plans -------------------------------------------------------------------------------------


def _record_plan(turn: Turn, intent: Plan | Emergency) -> tuple[Item, int | None]:
    """Store the plan for the intent's item and period; the item and the quantity replaced."""
    item = turn.agreement.item(intent.sku)
    assert item is not None
    _, previous = set_plan(
        turn.session, turn.agreement.id, item.sku, intent.period, intent.qty, turn.now,
        member_id=turn.member.id,
    )  # fmt: skip
    return item, previous


def on_plan(turn: Turn, intent: Plan) -> Card:
    """Record the buyer's demand plan for an item and period."""
    item, previous = _record_plan(turn, intent)
    return turn.card(
        "plan", urgent=False, item_name=item.name, unit=item.unit, period=intent.period.label,
        qty=intent.qty, previous=previous,
    )  # fmt: skip


def on_emergency(turn: Turn, intent: Emergency) -> Card:
    """An urgent change: the new requirement over the position is proposed now, marked urgent."""
    item, previous = _record_plan(turn, intent)
    _, current = _standing(turn, item.sku)
    needed_at = datetime.combine(intent.period.start, time(0), tzinfo=turn.agreement.tz)
    top_up = emergency_top_up(item, turn.agreement.terms, current, intent.qty, turn.now, needed_at)
    context: dict[str, Any] = {
        "urgent": True, "item_name": item.name, "unit": item.unit, "period": intent.period.label,
        "qty": intent.qty, "previous": previous, "position": current, "extra": 0,
        "proposal_id": "", "late": False, "customer_share": 0, "supplier_share": 0,
        "notice_hours": turn.agreement.terms.emergency_notice_hours,
    }  # fmt: skip
    if top_up is not None:
        row = ProposalRow(
            agreement_id=turn.agreement.id, sku=item.sku, qty=top_up.qty,
            state=ProposalState.PROPOSED.value, urgent=True, reason="emergency",
            created_at=turn.now, updated_at=turn.now,
        )  # fmt: skip
        turn.session.add(row)
        turn.session.flush()
        stored_proposals.log_creation(turn.session, row, actor(turn), turn.now)
        pid = stored_proposals.public_id(row.id)  # type: ignore[arg-type]
        context.update(
            extra=top_up.qty, proposal_id=pid, late=top_up.late,
            customer_share=_percent(top_up.customer_freight_share),
            supplier_share=_percent(top_up.supplier_freight_share),
        )  # fmt: skip
        _announce_urgent(turn, row, context)
        return turn.card("plan", buttons=proposal_buttons(pid, top_up.qty), **context)
    return turn.card("plan", **context)


def _percent(share: Any) -> str:
    return f"{share * 100:.0f}"


def _announce_urgent(turn: Turn, row: ProposalRow, context: dict[str, Any]) -> None:
    pid = context["proposal_id"]
    card = render_card(
        "plan",
        turn.config.bot.locale,
        buttons=proposal_buttons(pid, context["extra"]),
        urgent=True,
        **{k: v for k, v in context.items() if k != "urgent"},
    )
    for destination in proposal_destinations(turn.config, turn.agreement, turn.platforms):
        if (
            destination.platform == turn.incoming.platform
            and destination.chat == turn.incoming.chat
        ):
            continue  # the reply already says it here
        key = proposal_card_key(row, destination)
        enqueue(turn.session, destination, card, turn.now, key=key,
                agreement_id=turn.agreement.id, proposal_id=row.id)  # fmt: skip


# --- questions and the review ------------------------------------------------------------------


def on_status(turn: Turn, intent: Status) -> Card:
    """Where the agreement's items (or one of them) stand."""
    document = status(turn.session, turn.config, turn.now, [turn.agreement.id])
    [agreement] = document["agreements"]
    items = [i for i in agreement["items"] if intent.sku in (None, i["sku"])]
    return turn.card(
        "status", agreement=agreement["id"], items=items, states=state_labels(turn.locale)
    )


def on_help(turn: Turn, intent: Help) -> Card:
    """What this member can type."""
    return help_card(turn)


def on_review(turn: Turn, intent: ReviewNow) -> Card:
    """Run the review of this agreement now; the proposal cards go to the group."""
    results = review(
        turn.session, turn.config, turn.now, agreement_ids=[turn.agreement.id],
        platforms=turn.platforms,
    )  # fmt: skip
    proposed = [
        f"{r.proposal_id} {r.item.sku} {r.decision.qty} {r.item.unit}"
        for r in results
        if r.decision.action in ("propose", "update")
    ]
    reviewed = {r.item.sku for r in results}  # the review skips items never counted
    uncounted = [i.sku for i in turn.agreement.items if i.sku not in reviewed]
    return turn.card("review", agreement=turn.agreement.id, proposed=proposed, uncounted=uncounted)


HANDLERS: dict[type, Callable[[Any, Any], Card]] = {
    Count: on_count,
    Correction: on_correction,
    Withdrawal: on_withdrawal,
    Receipt: on_receipt,
    Plan: on_plan,
    Emergency: on_emergency,
    ProposalAction: on_proposal_action,
    Status: on_status,
    Help: on_help,
    ReviewNow: on_review,
}
