"""Every number of the seed agreement (DESIGN §3), each a test of its own.

Item 6205 deep groove ball bearing: min 50, max 100, reviewed every 3 days, next month's plan
by the 5th, settlement on the 25th on withdrawals, joint review after 30 days above max,
urgent changes within 24 hours with the customer paying 50% of the emergency freight.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from vmi_rules.aging import aged_qty, lots, overstock
from vmi_rules.emergency import emergency_top_up
from vmi_rules.ledger import Movement, book_before_count, infer_from_count, on_hand
from vmi_rules.periods import next_month
from vmi_rules.proposal import Actor, Proposal, ProposalState, in_transit, position
from vmi_rules.review import DemandPlan, review_item
from vmi_rules.settlement import settle, settlement_period
from vmi_rules.terms import AgreementTerms, Item

SH = ZoneInfo("Asia/Shanghai")
COUNT_AT = datetime(2026, 11, 21, 10, 0, tzinfo=SH)
BEARING = Item(
    sku="6205",
    name="6205 深沟球轴承",
    min=50,
    max=100,
    unit_price=Decimal("12.5"),
    lead_time_days=3,
)
TERMS = AgreementTerms(items=(BEARING,))
KEEPER = Actor("keeper", "王仓管", "warehouse")
BUYER = Actor("buyer", "王采购", "buyer")
SUPPLIER = Actor("supplier", "李供应", "supplier")


def review(on_hand: int, proposals=(), plans=(), now=COUNT_AT):  # type: ignore[no-untyped-def]
    return review_item(BEARING, on_hand, list(proposals), list(plans), now, TERMS.review_every_days)


def test_seed_terms_are_the_agreement_defaults() -> None:
    assert (TERMS.review_every_days, TERMS.plan_due_day, TERMS.settlement_day) == (3, 5, 25)
    assert (TERMS.overstock_days, TERMS.emergency_notice_hours) == (30, 24)
    assert TERMS.emergency_freight_customer_share == Decimal("0.5")


def test_seed_count_45_is_on_hand_45() -> None:
    assert on_hand([Movement("count", 45, COUNT_AT)]) == 45


def test_seed_count_45_proposes_55_to_reach_max_100() -> None:
    decision = review(on_hand([Movement("count", 45, COUNT_AT)]))
    assert (decision.action, decision.reason) == ("propose", "below_min")
    assert decision.qty == 55
    assert decision.position + decision.qty == 100


def test_seed_count_50_on_the_line_proposes_nothing() -> None:
    assert review(50).action == "none"


def test_seed_plan_90_next_month_still_proposes_55() -> None:
    december = DemandPlan("6205", next_month(COUNT_AT.date()), 90)
    decision = review(45, plans=[december])
    assert (decision.action, decision.qty) == ("propose", 55)
    assert decision.projected == 45  # the horizon (21-27 Nov) ends before December starts


def test_seed_plan_90_spread_over_december_is_3_a_day() -> None:
    december = DemandPlan("6205", next_month(COUNT_AT.date()), 90)
    decision = review(60, plans=[december], now=datetime(2026, 12, 1, 10, 0, tzinfo=SH))
    # 6 days (3 review + 3 lead) at 90 / 31 a day: 60 - 17.4 = 42.6 < 50
    assert decision.reason == "forecast"
    assert decision.projected == 42
    assert round(decision.days_to_min or 0, 2) == round(10 / (90 / 31), 2)
    assert decision.qty == 40


def test_seed_second_review_keeps_the_55_instead_of_proposing_again() -> None:
    p1 = Proposal("P1", "6205", 55)
    decision = review(45, [p1], now=COUNT_AT + timedelta(days=3))
    assert (decision.action, decision.proposal_id, decision.position) == ("keep", "P1", 100)


def test_seed_confirmed_55_is_in_transit_and_position_is_100() -> None:
    confirmed = Proposal("P1", "6205", 55).confirm(BUYER, COUNT_AT).after
    assert in_transit([confirmed]) == 55
    assert position(45, [confirmed]) == 100


def test_seed_receipt_55_takes_45_to_100() -> None:
    shipped = Proposal("P1", "6205", 55, state=ProposalState.SHIPPED)
    receipt = shipped.receive(KEEPER, COUNT_AT + timedelta(days=3))
    rows = [Movement("count", 45, COUNT_AT), Movement("receipt", receipt.qty, receipt.at)]
    assert on_hand(rows) == 100
    assert position(on_hand(rows), [receipt.after]) == 100


def test_seed_withdrawal_10_takes_100_to_90() -> None:
    rows = [
        Movement("count", 45, COUNT_AT),
        Movement("receipt", 55, COUNT_AT + timedelta(days=3)),
        Movement("withdrawal", 10, COUNT_AT + timedelta(days=4)),
    ]
    assert on_hand(rows) == 90


def test_seed_count_90_after_100_infers_withdrawal_10() -> None:
    rows = [Movement("count", 45, COUNT_AT), Movement("receipt", 55, COUNT_AT + timedelta(days=3))]
    assert infer_from_count(book_before_count(rows), 90).withdrawn == 10


def test_seed_emergency_120_over_position_100_proposes_20_customer_pays_half() -> None:
    announced = datetime(2026, 11, 26, 9, 0, tzinfo=SH)
    needed = datetime(2026, 12, 1, 0, 0, tzinfo=SH)
    result = emergency_top_up(BEARING, TERMS, 100, 120, announced, needed)
    assert result is not None
    assert (result.qty, result.urgent, result.late) == (20, True, False)
    assert result.customer_freight_share == Decimal("0.5")
    assert result.supplier_freight_share == Decimal("0.5")


def test_seed_emergency_notice_under_24_hours_is_accepted_and_flagged_late() -> None:
    needed = datetime(2026, 12, 1, 8, 0, tzinfo=SH)
    result = emergency_top_up(BEARING, TERMS, 100, 120, needed - timedelta(hours=20), needed)
    assert result is not None
    assert (result.qty, result.late) == (20, True)
    assert result.notice_hours == 20


def test_seed_settlement_85_withdrawn_times_unit_price() -> None:
    start, end = settlement_period(datetime(2026, 11, 25, 9, 0, tzinfo=SH), 25)
    withdrawals = [10, 25, 30, 20]  # 85 in the month
    rows = [Movement("receipt", 55, start + timedelta(days=1))] + [
        Movement("withdrawal", qty, start + timedelta(days=3 + i))
        for i, qty in enumerate(withdrawals)
    ]
    result = settle(rows, start, end, BEARING.unit_price)
    assert result.qty == 85
    assert result.amount == Decimal("1062.50")


def test_seed_settlement_on_the_25th_covers_the_month_since_the_last_25th() -> None:
    start, end = settlement_period(datetime(2026, 11, 25, 9, 0, tzinfo=SH), TERMS.settlement_day)
    assert (start, end) == (
        datetime(2026, 10, 25, tzinfo=SH),
        datetime(2026, 11, 25, tzinfo=SH),
    )


def _month_with_5_under_forecast() -> list[Movement]:
    """100 on the shelf expected to be used up; only 95 were, then the next 100 arrived."""
    received = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
    rows = [Movement("count", 45, COUNT_AT), Movement("receipt", 55, received)]
    rows += [Movement("withdrawal", 19, received + timedelta(days=1 + 3 * i)) for i in range(5)]
    rows.append(Movement("receipt", 100, datetime(2026, 12, 10, 10, 0, tzinfo=SH)))
    return rows


def test_seed_5_units_aged_after_30_days_above_max() -> None:
    rows = _month_with_5_under_forecast()
    now = datetime(2026, 12, 25, 10, 0, tzinfo=SH)
    aged = aged_qty(rows, now, TERMS.overstock_days)
    assert on_hand(rows) == 105
    assert aged == 5
    assert lots(rows)[0].since == datetime(2026, 11, 24, 10, 0, tzinfo=SH)
    assert overstock(on_hand(rows), BEARING, aged)


def test_seed_5_units_not_yet_aged_at_29_days() -> None:
    rows = _month_with_5_under_forecast()
    now = datetime(2026, 12, 23, 10, 0, tzinfo=SH)
    assert aged_qty(rows, now, TERMS.overstock_days) == 0
    assert not overstock(on_hand(rows), BEARING, 0)


def test_seed_plan_due_by_the_5th_is_for_next_month() -> None:
    assert next_month(date(2026, 11, 5)).label == "2026-12"
