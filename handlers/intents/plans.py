"""Plans: the buyer's demand plans (需求计划) and urgent changes (紧急需求), which propose the
extra now and tell the supplier's side at once."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from bot.services import announce
from bot.services.review import take_reviews_turn
from bot.storage import proposals as stored_proposals
from bot.storage.plans import set_plan
from bot.storage.stock import hold_item
from bot.storage.tables import ProposalRow
from handlers.intents.proposals import standing
from handlers.parsing import Emergency, Plan
from handlers.turn import Turn
from messages.cards import Card
from messages.render import proposal_buttons
from vmi_rules.emergency import emergency_top_up
from vmi_rules.proposal import ProposalState
from vmi_rules.terms import Item


def _record_plan(turn: Turn, intent: Plan | Emergency) -> tuple[Item, int | None]:
    """Store the plan for the intent's item and period; the item and the quantity replaced."""
    item = turn.agreement.item(intent.sku)
    assert item is not None
    _, previous = set_plan(
        turn.session, turn.agreement.id, item.sku, intent.period, intent.qty, turn.now,
        member_id=turn.member.id, inbox_id=turn.inbox_id, urgent=isinstance(intent, Emergency),
    )  # fmt: skip
    return item, previous


def on_plan(turn: Turn, intent: Plan) -> Card:
    """Record the buyer's demand plan for an item and period."""
    item, previous = _record_plan(turn, intent)
    return turn.card(
        "plan", urgent=False, item_name=item.name_in(turn.locale), unit=item.unit,
        period=intent.period.label, qty=intent.qty, previous=previous,
    )  # fmt: skip


def on_emergency(turn: Turn, intent: Emergency) -> Card:
    """An urgent change: the new requirement over the position is proposed now, marked urgent."""
    # the review's turn, then the item, as a stock-out count takes them: the position read
    # next counts what a review proposes meanwhile, so the shortfall is not ordered twice
    take_reviews_turn(turn.session)
    hold_item(turn.session, turn.agreement.id, intent.sku)
    item, previous = _record_plan(turn, intent)
    _, current = standing(turn, item.sku)
    needed_at = datetime.combine(intent.period.start, time(0), tzinfo=turn.agreement.tz)
    top_up = emergency_top_up(item, turn.agreement.terms, current, intent.qty, turn.now, needed_at)
    context: dict[str, Any] = {
        "urgent": True, "item_name": item.name, "item_name_en": item.name_en, "unit": item.unit,
        "period": intent.period.label,
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
        stored_proposals.log_creation(turn.session, row, turn.actor, turn.now)
        pid = stored_proposals.public_id(row.id)
        context.update(
            extra=top_up.qty, proposal_id=pid, late=top_up.late,
            customer_share=_percent(top_up.customer_freight_share),
            supplier_share=_percent(top_up.supplier_freight_share),
        )  # fmt: skip
        announce.urgent_proposal(turn, row, context)
        return turn.card("plan", buttons=proposal_buttons(pid, top_up.qty), **context)
    return turn.card("plan", **context)


def _percent(share: Any) -> str:
    return f"{share * 100:.0f}"
