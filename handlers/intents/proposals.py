"""Proposals (补货建议): the review run now, and each step of a proposal's life: confirm,
adjust, reject, ship and receive, each done once by someone allowed to."""

from __future__ import annotations

from typing import Any

from bot.services.review import review
from bot.storage import proposals as stored_proposals
from bot.storage.stock import stock_levels
from handlers.parsing import ProposalAction, Receipt, ReviewNow
from handlers.turn import Turn
from messages.cards import Card
from messages.words import example, label, state_labels
from vmi_rules.proposal import TransitionRefused, position


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
    # another agreement's proposal is not there for this chat (see handlers.placement)
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
            turn.session, proposal_id, action, turn.actor, turn.now, **options
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
    on_hand, current = standing(turn, item.sku)
    return turn.card(
        "proposal_action",
        action=action,
        proposal_id=stored_proposals.public_id(row.id),
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


def standing(turn: Turn, sku: str) -> tuple[int, int]:
    """Where an item stands now: on hand, and the position with its open proposals."""
    key = (turn.agreement.id, sku)
    level = stock_levels(turn.session, [turn.agreement.id], [sku]).get(key)
    open_rows = stored_proposals.open_proposals(turn.session, [turn.agreement.id]).get(key, [])
    on_hand = level.on_hand if level else 0
    return on_hand, position(on_hand, [stored_proposals.as_rule(r) for r in open_rows])
