"""Proposals (补货建议): the review run now, and each step of a proposal's life: confirm,
adjust, reject, decline, cancel, ship (whole or in parts), a new ETA and receive, each done
once by someone allowed to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.services.announce import group_messages
from bot.services.overstock import check_overstock
from bot.services.review import review, take_reviews_turn
from bot.storage import proposals as stored_proposals
from bot.storage.outbox import enqueue_all
from bot.storage.proposals import CardChanged
from bot.storage.stock import hold_items, last_receipt, stock_levels
from bot.storage.tables import ProposalRow
from handlers.parsing import CorrectReceipt, ProposalAction, Receipt, ReviewNow
from handlers.turn import Turn
from messages.cards import Card
from messages.words import example, label, state_labels, unit_word
from vmi_rules.proposal import ProposalState, TransitionRefused, position


def on_review(turn: Turn, intent: ReviewNow) -> Card:
    """Run the review of this agreement now, and the overstock check; the proposal cards and
    the overstock alerts due go to the group."""
    # the review's turn, then the items, then the proposals the review changes: the order a
    # stock-out and an undo take them in
    take_reviews_turn(turn.session)
    hold_items(turn.session, turn.agreement.id, [item.sku for item in turn.agreement.items])
    results = review(
        turn.session, turn.config, turn.now, agreement_ids=[turn.agreement.id],
        platforms=turn.platforms,
    )  # fmt: skip
    check_overstock(turn.session, turn.config, turn.now, agreement_ids=[turn.agreement.id],
                    platforms=turn.platforms)  # fmt: skip
    proposed = [
        f"{r.proposal_id} {r.item.sku} {r.decision.qty} {unit_word(r.item.unit, turn.locale)}"
        for r in results
        if r.decision.action in ("propose", "update")
    ]
    held = [
        {"sku": r.item.sku, "id": r.decision.rejected.proposal_id,
         "reason": r.decision.rejected.reason, "declined": r.decision.rejected.declined}
        for r in results
        if r.decision.reason == "rejected_recently" and r.decision.rejected
    ]  # fmt: skip
    reviewed = {r.item.sku for r in results}  # the review skips items never counted
    uncounted = [i.sku for i in turn.agreement.items if i.sku not in reviewed]
    return turn.card(
        "review", agreement=turn.agreement.id, proposed=proposed, uncounted=uncounted, held=held,
        every=turn.agreement.terms.review_every_days,
    )  # fmt: skip


def on_receipt(turn: Turn, intent: Receipt) -> Card:
    """The keeper takes in a proposal's goods, whole or in part."""
    return _act(turn, intent.proposal_id, "receive", qty=intent.qty)


def on_correct_receipt(turn: Turn, intent: CorrectReceipt) -> Card:
    """The keeper puts a receipt typed wrong right (更正入库 P3 25): the wrong one is reversed,
    the right one booked in its place, and the proposal's received quantity follows."""
    pid = intent.proposal_id.upper()
    row = stored_proposals.get(turn.session, intent.proposal_id)
    if row is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_proposal", detail=intent.proposal_id)
    item = turn.agreement.item(row.sku)
    assert item is not None
    before = stored_proposals.as_rule(row)
    try:
        row, transition, wrong = stored_proposals.correct_receipt(
            turn.session, row, intent.qty, turn.actor, turn.now, turn.inbox_id
        )
    except stored_proposals.ReceiptNotCorrected as refused:
        context = dict(refused.context)
        later = context.pop("later", None)
        if isinstance(later, datetime):
            context["later"] = later.astimezone(turn.agreement.tz).strftime("%m-%d %H:%M")
        return turn.refuse(
            refused.reason, proposal_id=pid, detail=str(intent.qty),
            example=example("receipt", turn.locale, pid), **context,
        )  # fmt: skip
    except TransitionRefused as refused:
        if refused.reason == "over_receipt":
            receipt = last_receipt_qty(turn, row)
            others = before.received_qty - receipt
            return turn.refuse(
                "over_receipt", proposal_id=pid, detail=str(intent.qty), ordered=before.qty,
                others=others, most=max(before.qty - others, 0),
                example=example("correct_receipt", turn.locale, pid).replace(
                    "25", str(max(before.qty - others, 1))
                ),
            )  # fmt: skip
        return turn.refuse(
            refused.reason, proposal_id=pid, decided_by=refused.decided_by,
            state_label=state_labels(turn.locale)[refused.state.value],
            intent_label=label("correct_receipt", turn.locale),
        )  # fmt: skip
    on_hand, current = standing(turn, item.sku)
    after = transition.after
    return turn.card(
        "proposal_action", action="correct_receipt", proposal_id=pid, by=turn.member.name,
        item_name=item.name_in(turn.locale), unit=item.unit, qty=after.qty, wrong=wrong,
        received=intent.qty, received_qty=after.received_qty, outstanding=after.outstanding,
        state_label=state_labels(turn.locale)[after.state.value], on_hand=on_hand,
        position=current, min=item.min, max=item.max,
    )  # fmt: skip


def last_receipt_qty(turn: Turn, row: ProposalRow) -> int:
    """The quantity of the proposal's latest receipt that counts (0 when none)."""
    assert row.id is not None
    receipt = last_receipt(turn.session, row.id)
    return receipt.qty if receipt is not None else 0


def on_proposal_action(turn: Turn, intent: ProposalAction) -> Card:
    """Confirm, adjust, reject, decline, cancel or ship a proposal, or give it a new ETA:
    once, by someone allowed to."""
    options: dict[str, Any] = {}
    action: str = intent.action
    if action == "adjust" and intent.qty is None:
        # a button with no box for the number (WeCom cards): say what to type instead
        return turn.refuse("ambiguous", example=example("adjust", turn.locale, intent.proposal_id))
    row = stored_proposals.get(turn.session, intent.proposal_id)
    if row is not None and row.agreement_id == turn.agreement.id:
        current = stored_proposals.as_rule(row)
        if action == "cancel" and current.state is ProposalState.PROPOSED:
            # 取消 P1 before anyone confirmed it has always meant turning it down (CONTRACT §5)
            action = "reject"
        if action == "ship" and intent.eta and intent.qty is None and current.to_ship == 0:
            # "发货 P3 明天" once it is all on its way: the supplier is giving a new ETA
            action = "eta"
    if action == "adjust":
        options["qty"] = intent.qty
    elif action in ("reject", "decline", "cancel"):
        options["reason"] = intent.reason
    elif action == "ship":
        options["eta"] = intent.eta
        options["qty"] = intent.qty
    elif action == "eta":
        options["eta"] = intent.eta
        options["today"] = turn.now.astimezone(turn.agreement.tz).date()
    if action in ("reject", "decline") and row is not None:
        # the position the rejection (or decline) leaves, which the next review compares with
        options["position_left"] = (
            standing(turn, row.sku)[1] - stored_proposals.as_rule(row).outstanding
        )
    shown = intent.qty if action == "confirm" else None  # what the pressed card said
    return _act(turn, intent.proposal_id, action, shown_qty=shown, **options)


def declining_is_the_suppliers(turn: Turn, intent: ProposalAction) -> Card:
    """A buyer typed the supplier's "无法供货 P3": only the supplier declines; the buyer rejects
    a proposed one or cancels a confirmed one, and the example names the real id and state."""
    row = stored_proposals.get(turn.session, intent.proposal_id)
    pid = intent.proposal_id.upper()
    state = row.state if row is not None and row.agreement_id == turn.agreement.id else ""
    step = "cancel" if state == ProposalState.CONFIRMED.value else "reject"
    said = example("reject_reason" if step == "reject" else "cancel", turn.locale, pid)
    if intent.reason:  # their own reason, carried over to what they should type
        said = f"{label(step, turn.locale)} {pid} {intent.reason}"
    return turn.refuse(
        "buyer_declines", proposal_id=pid, state=state,
        state_label=state_labels(turn.locale).get(state, ""), example=said,
    )  # fmt: skip


def _act(
    turn: Turn, proposal_id: str, action: str, shown_qty: int | None = None, **options: Any
) -> Card:
    row = stored_proposals.get(turn.session, proposal_id)
    # another agreement's proposal is not there for this chat (see handlers.placement)
    if row is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_proposal", detail=proposal_id)
    previous_qty = row.qty
    try:
        row, transition = stored_proposals.act(
            turn.session, proposal_id, action, turn.actor, turn.now, turn.inbox_id,
            shown_qty=shown_qty, **options,
        )  # fmt: skip
    except CardChanged as changed:
        # an older card: the review has resized it since, so that button confirms nothing
        return turn.refuse(
            "changed", proposal_id=proposal_id.upper(), qty=changed.qty, shown=shown_qty,
            example=example("confirm", turn.locale, proposal_id.upper()),
        )  # fmt: skip
    except TransitionRefused as refused:
        if refused.reason == "bad_quantity":
            return turn.refuse("bad_quantity", detail=str(options.get("qty")))
        pid = proposal_id.upper()
        if refused.reason == "needs_reason":
            hint = "reject_reason" if action == "reject" else action
            return turn.refuse(
                "needs_reason", proposal_id=pid, intent_label=label(action, turn.locale),
                example=example(hint, turn.locale, pid),
            )  # fmt: skip
        if refused.reason == "over_ship":
            left = stored_proposals.as_rule(row).to_ship
            return turn.refuse(
                "over_ship", proposal_id=pid, detail=str(options.get("qty")), left=left,
                example=example("ship", turn.locale, pid) + f" {left}",
            )  # fmt: skip
        if refused.reason == "past_eta":
            eta = options["eta"]
            return turn.refuse(
                "past_eta", proposal_id=pid, detail=eta.isoformat(),
                example=example("eta", turn.locale, pid),
            )  # fmt: skip
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
    after = transition.after
    card = turn.card(
        "proposal_action",
        action=action,
        proposal_id=stored_proposals.public_id(row.id),
        by=turn.member.name,
        item_name=item.name_in(turn.locale),
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
        outstanding=after.outstanding,
        over=max(0, after.received_qty - after.qty),
        shipped=transition.qty if action == "ship" else 0,
        shipped_qty=after.shipped_qty,
        to_ship=after.to_ship,
        previous_eta=transition.before.eta.isoformat() if transition.before.eta else "",
    )
    if action in _BOTH_SIDES:
        tell_the_group(turn, row, card)
    return card


# Steps the other side must hear of even when they were said in a private chat.
_BOTH_SIDES = frozenset({"decline", "cancel", "eta"})


def tell_the_group(turn: Turn, row: ProposalRow, card: Card) -> None:
    """Post a step's card to the agreement's group chats, but not where it was said: the
    reply says it there."""
    asked_in = (turn.incoming.platform, turn.incoming.chat)
    key = f"proposal-step:{row.id}:v{row.version}"
    everywhere = group_messages(turn.config, turn.agreement, card, turn.now, turn.platforms, key)
    elsewhere = [m for m in everywhere if (m.destination.platform, m.destination.chat) != asked_in]
    enqueue_all(turn.session, elsewhere)


def standing(turn: Turn, sku: str) -> tuple[int, int]:
    """Where an item stands now: on hand, and the position with its open proposals."""
    key = (turn.agreement.id, sku)
    level = stock_levels(turn.session, [turn.agreement.id], [sku]).get(key)
    open_rows = stored_proposals.open_proposals(turn.session, [turn.agreement.id]).get(key, [])
    on_hand = level.on_hand if level else 0
    return on_hand, position(on_hand, [stored_proposals.as_rule(r) for r in open_rows])
