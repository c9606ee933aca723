"""Reminders posted to the agreement's group: a missing count, a plan due or overdue, a
proposal nobody confirmed, goods shipped but not received. Each occasion is posted once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from bot.config import Config
from bot.services.announce import group_messages
from bot.services.terms import effective
from bot.storage.outbox import Message, enqueue_all
from bot.storage.proposals import as_rule, open_proposals
from bot.storage.stock import last_counts
from bot.storage.tables import DemandPlanRow
from messages.render import render_card
from messages.words import example
from vmi_rules.reminders import OpenProposal, Reminder, due_reminders


def post_reminders(
    session: Session,
    config: Config,
    now: datetime,
    *,
    agreement_ids: Collection[str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> list[Reminder]:
    """Queue every reminder due now that was not posted for its occasion before."""
    config = effective(config, session, agreement_ids)  # items as agreed, amendments applied
    posted: list[Reminder] = []
    messages: list[Message] = []
    for agreement in config.agreements:
        if agreement_ids is not None and agreement.id not in agreement_ids:
            continue
        counted = last_counts(session, agreement.id, [item.sku for item in agreement.items])
        counts = [at for at in counted.values() if at]
        periods = session.scalars(
            select(col(DemandPlanRow.period)).where(col(DemandPlanRow.agreement_id) == agreement.id)
        )
        opens = [
            OpenProposal(as_rule(row), row.updated_at, item.lead_time_days)
            for (_, sku), rows in open_proposals(session, [agreement.id]).items()
            if (item := agreement.item(sku)) is not None
            for row in rows
        ]
        due = due_reminders(
            now.astimezone(agreement.tz),
            agreement.terms,
            max(counts) if counts else None,
            set(periods),
            opens,
            counted,
        )
        locale = config.bot.locale
        first_sku = agreement.items[0].sku if agreement.items else ""
        for reminder in due:
            card = render_card(
                "reminder",
                locale,
                kind=reminder.kind,
                agreement=agreement.id,
                proposal_id=reminder.proposal_id,
                period=reminder.period,
                due_day=agreement.terms.plan_due_day,
                skus=list(reminder.skus),
                hours=agreement.terms.reminders.unconfirmed_hours,
                example=_example(reminder, locale, first_sku),
            )
            key = f"remind:{agreement.id}:{reminder.key}"
            messages.extend(group_messages(config, agreement, card, now, platforms, key))
        posted.extend(due)
    enqueue_all(session, messages)
    return posted


# what each reminder asks people to type
ASKS = {
    "count_missing": "count",
    "weekly_plan": "plan_week",
    "monthly_plan": "plan",
    "plan_overdue": "plan",
    "unconfirmed": "confirm",
    "not_arrived": "receipt",
}


def _example(reminder: Reminder, locale: str, sku: str) -> str:
    text = example(ASKS[reminder.kind], locale, reminder.proposal_id or "P1")
    return text.replace("6205", sku or "6205")  # the agreement's own first item
