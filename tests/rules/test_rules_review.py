"""The periodic review (rules 3, 4): order quantities, triggers, look-ahead, no duplicates."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.periods import parse_period
from vmi_rules.proposal import Proposal, ProposalState
from vmi_rules.review import (
    DemandPlan,
    days_until_below,
    demand_between,
    order_quantity,
    review_item,
)
from vmi_rules.terms import Item

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=SH)
BEARING = Item(sku="6205", name="6205 深沟球轴承", min=50, max=100, lead_time_days=3)


def plan(label: str, qty: int, sku: str = "6205") -> DemandPlan:
    return DemandPlan(sku=sku, period=parse_period(label), qty=qty)


def sh(day: int, hour: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SH)


# --- order quantity ------------------------------------------------------------------------


def test_order_quantity_is_the_need_in_single_units() -> None:
    assert order_quantity(BEARING, 55) == 55


def test_order_quantity_rounds_up_to_whole_packs() -> None:
    assert order_quantity(replace(BEARING, pack_size=10), 55) == 60


def test_order_quantity_is_raised_to_the_moq() -> None:
    assert order_quantity(replace(BEARING, moq=20), 5) == 20


def test_moq_itself_is_rounded_up_to_whole_packs() -> None:
    assert order_quantity(replace(BEARING, pack_size=10, moq=25), 5) == 30


def test_need_above_moq_is_not_lowered_to_it() -> None:
    assert order_quantity(replace(BEARING, pack_size=10, moq=20), 41) == 50


def test_rounding_down_keeps_stock_at_or_below_max() -> None:
    assert order_quantity(replace(BEARING, pack_size=10, rounding="down"), 55) == 50


def test_rounding_down_below_moq_orders_nothing() -> None:
    item = replace(BEARING, pack_size=10, moq=40, rounding="down")
    assert order_quantity(item, 35) == 0
    assert order_quantity(item, 45) == 40


def test_rounding_down_a_need_smaller_than_a_pack_orders_nothing() -> None:
    assert order_quantity(replace(BEARING, pack_size=12, rounding="down"), 11) == 0


@pytest.mark.parametrize("need", [0, -7])
def test_no_need_no_order(need: int) -> None:
    assert order_quantity(replace(BEARING, moq=20, pack_size=10), need) == 0


# --- demand spread over periods ------------------------------------------------------------


def test_demand_is_spread_evenly_over_the_days_of_the_month() -> None:
    plans = [plan("2026-12", 310)]
    assert demand_between(plans, sh(1), sh(4)) == pytest.approx(30.0)


def test_partial_days_count_in_proportion() -> None:
    plans = [plan("2026-12", 310)]
    # noon on the 1st to 18:00 on the 2nd is 1.25 days at 10 a day
    assert demand_between(plans, sh(1, 12), sh(2, 18)) == pytest.approx(12.5)


def test_demand_outside_the_plan_is_zero() -> None:
    assert demand_between([plan("2026-12", 310)], sh(20, month=11), sh(1)) == 0


def test_demand_across_two_months_uses_each_months_rate() -> None:
    plans = [plan("2026-11", 300), plan("2027-01", 620)]
    # 2 days of November at 10 a day, December without a plan, 1 day of January at 20
    assert demand_between(plans, sh(29, month=11), datetime(2027, 1, 2, tzinfo=SH)) == (
        pytest.approx(40.0)
    )


def test_a_week_plan_speaks_for_its_days_inside_a_month_plan() -> None:
    plans = [plan("2026-12", 310), plan("2026-W50", 70)]  # W50: 7-13 Dec, 10 a day
    # 6 Dec at the month's rate 10, then 7-8 Dec at the week's rate 10: no double counting
    assert demand_between(plans, sh(6), sh(9)) == pytest.approx(30.0)
    heavy = [plan("2026-12", 310), plan("2026-W50", 140)]
    assert demand_between(heavy, sh(6), sh(9)) == pytest.approx(10 + 2 * 20)


def test_a_week_plan_wins_over_the_month_in_whatever_order_they_come() -> None:
    plans = [plan("2026-W50", 140), plan("2026-12", 310)]
    assert demand_between(plans, sh(7), sh(8)) == pytest.approx(20.0)


def test_a_later_plan_for_the_same_period_replaces_the_earlier_one() -> None:
    plans = [plan("2026-12", 310), plan("2026-12", 620)]
    assert demand_between(plans, sh(1), sh(2)) == pytest.approx(20.0)


def test_demand_uses_the_local_days_of_the_start_time_zone() -> None:
    plans = [plan("2026-12", 310)]
    start = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 Dec 00:00 in Shanghai
    in_shanghai = start.astimezone(SH)
    assert demand_between(plans, in_shanghai, in_shanghai + timedelta(days=1)) == (
        pytest.approx(10.0)
    )
    assert demand_between(plans, start, start + timedelta(days=1)) == pytest.approx(10 * 16 / 24)


def test_empty_or_reversed_span_has_no_demand() -> None:
    plans = [plan("2026-12", 310)]
    assert demand_between(plans, sh(5), sh(5)) == 0
    assert demand_between(plans, sh(5), sh(3)) == 0


def test_days_until_below_solves_inside_a_period() -> None:
    plans = [plan("2026-12", 310)]
    assert days_until_below(80, 50, plans, sh(1), sh(10)) == pytest.approx(3.0)


def test_days_until_below_is_none_when_the_line_holds() -> None:
    assert days_until_below(80, 50, [plan("2026-12", 310)], sh(1), sh(3)) is None


# --- the review ----------------------------------------------------------------------------


def review(on_hand: int, proposals=(), plans=(), item=BEARING, now=NOW):  # type: ignore[no-untyped-def]
    return review_item(item, on_hand, list(proposals), list(plans), now, 3)


def test_position_exactly_at_min_needs_nothing() -> None:
    decision = review(50)
    assert (decision.action, decision.reason, decision.qty) == ("none", "ok", 0)
    assert decision.projected is None


def test_below_min_proposes_up_to_max() -> None:
    decision = review(49)
    assert (decision.action, decision.reason, decision.qty) == ("propose", "below_min", 51)
    assert (decision.on_hand, decision.position) == (49, 49)


def test_below_min_with_packs_and_moq() -> None:
    item = replace(BEARING, pack_size=12, moq=36)
    assert review(45, item=item).qty == 60
    assert review(30, item=item).qty == 72


def test_rounding_down_with_room_below_moq_proposes_nothing_and_says_why() -> None:
    item = replace(BEARING, min=50, max=60, pack_size=10, moq=20, rounding="down")
    decision = review(45, item=item)
    assert (decision.action, decision.reason, decision.qty) == ("none", "room_below_moq", 0)


def test_an_urgent_proposal_counts_in_the_position() -> None:
    urgent = Proposal("P2", "6205", 20, urgent=True)
    decision = review(40, [urgent])
    assert decision.position == 60
    assert (decision.action, decision.reason) == ("none", "ok")


def test_an_urgent_proposal_does_not_block_a_regular_one() -> None:
    urgent = Proposal("P2", "6205", 5, urgent=True, state=ProposalState.SHIPPED)
    decision = review(40, [urgent])
    assert (decision.action, decision.qty, decision.position) == ("propose", 55, 45)


def test_closed_and_other_items_proposals_are_ignored() -> None:
    others = [
        Proposal("P3", "6206", 80),
        Proposal("P4", "6205", 55, state=ProposalState.REJECTED),
        Proposal("P5", "6205", 55, state=ProposalState.RECEIVED, received_qty=55),
    ]
    decision = review(45, others)
    assert (decision.action, decision.qty, decision.position) == ("propose", 55, 45)


def test_forecast_look_ahead_proposes_early_and_says_when_the_line_is_crossed() -> None:
    # 10 a day; horizon is 3 review days + 3 lead days: 80 - 60 = 20 < 50
    decision = review(80, plans=[plan("2026-12", 310)], now=sh(1, 12))
    assert (decision.action, decision.reason) == ("propose", "forecast")
    assert decision.qty == 20
    assert decision.projected == 20
    assert decision.days_to_min == pytest.approx(3.0)


def test_forecast_counts_a_plan_that_starts_later_in_the_horizon() -> None:
    # now 28 Nov noon; no November plan; December at 10 a day starts in 2.5 days
    decision = review(60, plans=[plan("2026-12", 310)], now=sh(28, 12, month=11))
    assert decision.reason == "forecast"
    assert decision.projected == 25
    assert decision.days_to_min == pytest.approx(3.5)
    assert decision.qty == 40


def test_forecast_that_stays_above_min_proposes_nothing_but_shows_the_projection() -> None:
    decision = review(90, plans=[plan("2026-12", 155)], now=sh(1))  # 5 a day for 6 days
    assert (decision.action, decision.reason) == ("none", "ok")
    assert decision.projected == 60
    assert decision.days_to_min is None


def test_projection_on_the_line_is_not_below_it() -> None:
    decision = review(110, plans=[plan("2026-12", 310)], item=replace(BEARING, max=200), now=sh(1))
    assert decision.projected == 50
    assert decision.action == "none"


def test_plans_of_other_items_are_ignored() -> None:
    decision = review(80, plans=[plan("2026-12", 3100, sku="6206")], now=sh(1))
    assert (decision.action, decision.projected) == ("none", None)


def test_forecast_firing_at_max_orders_nothing_and_says_so() -> None:
    decision = review(100, plans=[plan("2026-12", 3100)], now=sh(1))
    assert (decision.action, decision.reason, decision.qty) == ("none", "at_max", 0)


def test_open_proposed_regular_proposal_is_kept_when_still_right() -> None:
    p1 = Proposal("P1", "6205", 55)
    decision = review(45, [p1])
    assert (decision.action, decision.reason, decision.proposal_id) == ("keep", "below_min", "P1")
    assert decision.position == 100


def test_open_proposed_regular_proposal_is_updated_after_more_withdrawals() -> None:
    decision = review(30, [Proposal("P1", "6205", 55)])
    assert (decision.action, decision.qty, decision.proposal_id) == ("update", 70, "P1")
    assert decision.position == 85


def test_an_unconfirmed_proposal_no_longer_needed_is_withdrawn() -> None:
    # an unplanned receipt took stock to 70: confirming P1 (55) would make 125 against max 100
    decision = review(70, [Proposal("P1", "6205", 55)])
    assert (decision.action, decision.reason, decision.qty) == ("withdraw", "no_longer_needed", 0)
    assert decision.proposal_id == "P1"


@pytest.mark.parametrize("state", [ProposalState.CONFIRMED, ProposalState.SHIPPED])
def test_confirmed_regular_proposal_below_min_is_waited_for_not_doubled(
    state: ProposalState,
) -> None:
    p1 = Proposal("P1", "6205", 10, state=state)
    decision = review(30, [p1])
    assert (decision.action, decision.reason, decision.qty) == ("keep", "below_min_in_transit", 0)
    assert decision.proposal_id == "P1"


def test_confirmed_regular_proposal_above_min_is_in_progress() -> None:
    p1 = Proposal("P1", "6205", 55, state=ProposalState.CONFIRMED)
    decision = review(45, [p1])
    assert (decision.action, decision.reason, decision.position) == ("keep", "in_progress", 100)


def test_partly_received_proposal_counts_only_what_is_still_coming() -> None:
    p1 = Proposal("P1", "6205", 55, state=ProposalState.SHIPPED, received_qty=30)
    assert review(75, [p1]).position == 100


def test_review_horizon_adds_the_review_cycle_and_lead_time() -> None:
    # 10 a day; with lead time 0 the horizon is 3 days (demand 30), with 3 it is 6 (demand 60)
    plans = [plan("2026-12", 310)]
    no_lead = review(85, plans=plans, item=replace(BEARING, lead_time_days=0), now=sh(1))
    with_lead = review(85, plans=plans, now=sh(1))
    assert (no_lead.projected, no_lead.action) == (55, "none")
    assert (with_lead.projected, with_lead.action) == (25, "propose")


def test_days_of_cover_come_from_the_planned_rate() -> None:
    # 90 over December's 31 days is 90/31 a day; a position of 45 lasts 15.5 days
    decision = review(45, plans=[plan("2026-12", 90)], now=sh(1))
    assert decision.daily_demand == pytest.approx(90 / 31)
    assert decision.days_of_cover == pytest.approx(15.5)
    assert review(45).days_of_cover is None  # no plan, no guess
