"""Reminders (DESIGN §4): what the bot should ask for now, from the state and the clock.

Each reminder has a key that names its occasion (the day, the week, the period, the proposal),
so that asking again for the same occasion can be recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vmi_rules.periods import next_month, next_week
from vmi_rules.proposal import Proposal, ProposalState
from vmi_rules.terms import AgreementTerms, ReminderTimes

ReminderKind = Literal[
    "count_missing", "weekly_plan", "monthly_plan", "plan_overdue", "unconfirmed", "not_arrived"
]
# The defaults, as the agreement's `[agreements.reminders]` keys start (ReminderTimes).
_DEFAULT = ReminderTimes()
COUNT_DUE = _DEFAULT.count_at  # no count by then: remind the keeper
WEEKLY_PLAN_AT = _DEFAULT.weekly_plan_at  # on Fridays: ask the buyer for next week's plan
MONTHLY_PLAN_AT = _DEFAULT.monthly_plan_at  # on the 1st: next month's plan is due by plan_due_day
NUDGE_AFTER = timedelta(hours=_DEFAULT.unconfirmed_hours)  # nobody confirmed: nudge the buyer
FRIDAY = 4


@dataclass(frozen=True)
class Reminder:
    """Something to ask for, with the occasion it is for."""

    kind: ReminderKind
    key: str
    proposal_id: str = ""
    sku: str = ""
    period: str = ""
    skus: tuple[str, ...] = ()  # the items it is about (the ones not counted today)


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
    last_counts: Mapping[str, datetime | None] | None = None,
) -> list[Reminder]:
    """The reminders due at `now` (on the agreement's local clock), as `terms.reminders` set
    them. `last_counts` (sku → its latest count) names the items not counted today."""
    today, clock = now.date(), now.time()
    when = terms.reminders
    planned = set(planned_periods)
    due: list[Reminder] = []
    if last_counts is not None:
        missing = uncounted(now, last_counts)
        if when.count and clock >= when.count_at and missing:
            key = f"count:{today.isoformat()}"
            due.append(Reminder("count_missing", key, skus=tuple(missing)))
    elif when.count and clock >= when.count_at and not _on(last_count_at, now):
        due.append(Reminder("count_missing", f"count:{today.isoformat()}"))
    week = next_week(today)
    if (
        when.weekly_plan
        and today.weekday() == when.weekly_plan_day_index
        and clock >= when.weekly_plan_at
        and week.label not in planned
    ):
        due.append(Reminder("weekly_plan", f"week:{week.label}", period=week.label))
    month = next_month(today)
    if month.label not in planned:
        if (
            when.monthly_plan
            and today.day == when.monthly_plan_day
            and clock >= when.monthly_plan_at
        ):
            due.append(Reminder("monthly_plan", f"month:{month.label}", period=month.label))
        elif when.plan_overdue and today.day > terms.plan_due_day:
            due.append(Reminder("plan_overdue", f"overdue:{month.label}", period=month.label))
    nudge_after = timedelta(hours=when.unconfirmed_hours)
    for item in open_proposals:
        p = item.proposal
        if (
            when.unconfirmed
            and p.state is ProposalState.PROPOSED
            and now - item.since >= nudge_after
        ):
            due.append(Reminder("unconfirmed", f"nudge:{p.id}", proposal_id=p.id, sku=p.sku))
        arrival = item.since + timedelta(days=item.lead_time_days + 1)
        if when.not_arrived and p.state is ProposalState.SHIPPED and now >= arrival:
            due.append(Reminder("not_arrived", f"arrival:{p.id}", proposal_id=p.id, sku=p.sku))
    return due


def _on(moment: datetime | None, now: datetime) -> bool:
    """Whether `moment` falls on the day of `now`, on `now`'s clock."""
    return moment is not None and moment.astimezone(now.tzinfo).date() == now.date()


def uncounted(now: datetime, last_counts: Mapping[str, datetime | None]) -> list[str]:
    """The items (skus, in the order given) with no count on the day of `now` (谁没盘点)."""
    return [sku for sku, at in last_counts.items() if not _on(at, now)]
