"""待办: each open proposal waits for one step, for the roles that may take it, and is late as
the reminders judge it (the seed's 6205, lead time 3 days)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from vmi_rules.proposal import Proposal, ProposalState
from vmi_rules.reminders import OpenProposal
from vmi_rules.todo import waiting_for

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, tzinfo=SH)


def open_(pid: str, state: ProposalState, hours_ago: int, eta: date | None = None) -> OpenProposal:
    proposal = Proposal(pid, "6205", 55, state, eta=eta)
    return OpenProposal(proposal, NOW - timedelta(hours=hours_ago), lead_time_days=3)


PROPOSED_NEW = open_("P1", ProposalState.PROPOSED, 2)
PROPOSED_OLD = open_("P2", ProposalState.PROPOSED, 30)
CONFIRMED = open_("P3", ProposalState.CONFIRMED, 80)
SHIPPED_DUE = open_("P4", ProposalState.SHIPPED, 20, eta=date(2026, 11, 25))
SHIPPED_LATE = open_("P5", ProposalState.SHIPPED, 50, eta=date(2026, 11, 24))
ALL = [PROPOSED_NEW, PROPOSED_OLD, CONFIRMED, SHIPPED_DUE, SHIPPED_LATE]


def listed(role: str) -> list[tuple[str, str, bool]]:
    return [(w.item.proposal.id, w.step, w.late) for w in waiting_for(role, ALL, NOW)]


def test_each_role_sees_the_step_it_takes_longest_waiting_first() -> None:
    assert listed("buyer") == [("P2", "confirm", True), ("P1", "confirm", False)]
    assert listed("supplier") == [("P3", "ship", True)]  # 80 h > 3 days of lead time
    assert listed("warehouse") == [("P5", "receive", True), ("P4", "receive", False)]
    assert [pid for pid, _, _ in listed("admin")] == ["P3", "P5", "P2", "P4", "P1"]


def test_a_shipment_without_an_eta_is_late_after_the_lead_time_and_a_day() -> None:
    in_time = open_("P6", ProposalState.SHIPPED, 24 * 4 - 1)
    late = open_("P7", ProposalState.SHIPPED, 24 * 4)
    waits = waiting_for("warehouse", [in_time, late], NOW)
    assert [(w.item.proposal.id, w.late, w.age) for w in waits] == [
        ("P7", True, timedelta(days=4)),
        ("P6", False, timedelta(hours=95)),
    ]
