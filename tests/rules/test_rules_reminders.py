"""Reminders (DESIGN §4) from the state and the clock, in Asia/Shanghai."""

from datetime import datetime
from zoneinfo import ZoneInfo

from vmi_rules.proposal import Proposal, ProposalState
from vmi_rules.reminders import OpenProposal, due_reminders
from vmi_rules.terms import AgreementTerms

SH = ZoneInfo("Asia/Shanghai")
TERMS = AgreementTerms()  # plan due by the 5th


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def kinds(now: datetime, last_count=None, planned=(), proposals=()) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.key for r in due_reminders(now, TERMS, last_count, planned, proposals)]


def test_no_count_by_ten_reminds_the_keeper_once_a_day() -> None:
    assert kinds(at(11, 18, 9, 59), planned={"2026-12"}) == []
    assert kinds(at(11, 18, 10), at(11, 17, 10), {"2026-12"}) == ["count:2026-11-18"]
    assert kinds(at(11, 18, 10), at(11, 18, 8), {"2026-12"}) == []  # counted this morning


def test_on_friday_afternoon_the_buyer_is_asked_for_next_weeks_plan() -> None:
    friday = at(11, 20, 16)  # 2026-11-20 is a Friday; next week is ISO week 48
    counted = at(11, 20, 9)
    assert kinds(friday, counted, {"2026-12"}) == ["week:2026-W48"]
    assert kinds(friday, counted, {"2026-12", "2026-W48"}) == []
    assert kinds(at(11, 19, 16), at(11, 19, 9), {"2026-12"}) == []  # a Thursday: not asked


def test_next_months_plan_is_asked_on_the_1st_and_overdue_after_the_5th() -> None:
    counted = at(11, 1, 8)
    assert kinds(at(11, 1, 9), counted) == ["month:2026-12"]
    assert kinds(at(11, 3, 9), at(11, 3, 8)) == []  # still time until the 5th
    assert kinds(at(11, 6, 9), at(11, 6, 8)) == ["overdue:2026-12"]
    assert kinds(at(11, 6, 9), at(11, 6, 8), {"2026-12"}) == []


def test_a_proposal_left_unconfirmed_a_day_nudges_the_buyer() -> None:
    p1 = OpenProposal(Proposal("P1", "6205", 55), at(11, 20, 11), lead_time_days=3)
    now = at(11, 21, 10, 59)
    assert [r for r in due_reminders(now, TERMS, now, {"2026-12"}, [p1])] == []
    [nudge] = due_reminders(at(11, 21, 11), TERMS, now, {"2026-12"}, [p1])
    assert (nudge.kind, nudge.proposal_id, nudge.key) == ("unconfirmed", "P1", "nudge:P1")


def test_shipped_but_not_arrived_after_lead_time_and_a_day_asks_the_keeper() -> None:
    shipped = Proposal("P1", "6205", 55, state=ProposalState.SHIPPED)
    p1 = OpenProposal(shipped, at(11, 20, 11), lead_time_days=3)
    assert due_reminders(at(11, 24, 10, 59), TERMS, at(11, 24, 9), {"2026-12"}, [p1]) == []
    [ask] = due_reminders(at(11, 24, 11), TERMS, at(11, 24, 9), {"2026-12"}, [p1])
    assert (ask.kind, ask.key) == ("not_arrived", "arrival:P1")
