"""Reminders (DESIGN §4): what the bot should ask for now, from the state and the clock.

Each reminder has a key that names its occasion (the day, the week, the period, the proposal),
so that asking again for the same occasion can be recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from vmi_rules.periods import next_month, next_week
from vmi_rules.proposal import Proposal, ProposalState
from vmi_rules.terms import AgreementTerms

ReminderKind = Literal[
    "count_missing", "weekly_plan", "monthly_plan", "plan_overdue", "unconfirmed", "not_arrived"
]
COUNT_DUE = time(10, 0)  # no count by then: remind the keeper
WEEKLY_PLAN_AT = time(16, 0)  # on Fridays: ask the buyer for next week's plan
MONTHLY_PLAN_AT = time(9, 0)  # on the 1st: next month's plan is due by plan_due_day
NUDGE_AFTER = timedelta(hours=24)  # a proposal nobody confirmed for this long: nudge the buyer
FRIDAY = 4


@dataclass(frozen=True)
class Reminder:
    """Something to ask for, with the occasion it is for."""

    kind: ReminderKind
    key: str
    proposal_id: str = ""
    sku: str = ""
    period: str = ""


@dataclass(frozen=True)
class OpenProposal:
    """An open proposal and when it last changed (proposed, confirmed or shipped then)."""

    proposal: Proposal
    since: datetime
    lead_time_days: int


def due_reminders(
    now: datetime,
    terms: AgreementTerms,
    last_count_at: datetime | None,
    planned_periods: Iterable[str],
    open_proposals: Iterable[OpenProposal],
) -> list[Reminder]:
    """The reminders due at `now` (on the agreement's local clock)."""
    today, clock = now.date(), now.time()
    planned = set(planned_periods)
    due: list[Reminder] = []
    counted_today = (
        last_count_at is not None and last_count_at.astimezone(now.tzinfo).date() == today
    )
    if clock >= COUNT_DUE and not counted_today:
        due.append(Reminder("count_missing", f"count:{today.isoformat()}"))
    week = next_week(today)
    if today.weekday() == FRIDAY and clock >= WEEKLY_PLAN_AT and week.label not in planned:
        due.append(Reminder("weekly_plan", f"week:{week.label}", period=week.label))
    month = next_month(today)
    if month.label not in planned:
        if today.day == 1 and clock >= MONTHLY_PLAN_AT:
            due.append(Reminder("monthly_plan", f"month:{month.label}", period=month.label))
        elif today.day > terms.plan_due_day:
            due.append(Reminder("plan_overdue", f"overdue:{month.label}", period=month.label))
    for item in open_proposals:
        p = item.proposal
        if p.state is ProposalState.PROPOSED and now - item.since >= NUDGE_AFTER:
            due.append(Reminder("unconfirmed", f"nudge:{p.id}", proposal_id=p.id, sku=p.sku))
        arrival = item.since + timedelta(days=item.lead_time_days + 1)
        if p.state is ProposalState.SHIPPED and now >= arrival:
            due.append(Reminder("not_arrived", f"arrival:{p.id}", proposal_id=p.id, sku=p.sku))
    return due
