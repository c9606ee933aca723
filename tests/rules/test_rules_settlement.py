"""Settlement on withdrawals only, and its periods (rules 6, 10)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.ledger import Movement
from vmi_rules.settlement import (
    Adjustment,
    Billed,
    Side,
    Signature,
    Statement,
    StatementRefused,
    StatementState,
    adjustments,
    discounts_left,
    settle,
    settlement_period,
    side_of,
    total,
)

SH = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def test_at_the_cutoff_the_month_to_it_closes() -> None:
    assert settlement_period(sh(2026, 11, 25), 25) == (sh(2026, 10, 25), sh(2026, 11, 25))


def test_a_second_before_the_cutoff_the_previous_period_is_the_closed_one() -> None:
    just_before = sh(2026, 11, 25) - timedelta(seconds=1)
    assert settlement_period(just_before, 25) == (sh(2026, 9, 25), sh(2026, 10, 25))


def test_period_across_the_new_year() -> None:
    assert settlement_period(sh(2027, 1, 10, 9), 25) == (sh(2026, 11, 25), sh(2026, 12, 25))
    assert settlement_period(sh(2027, 1, 25, 9), 25) == (sh(2026, 12, 25), sh(2027, 1, 25))


def test_cutoff_is_midnight_in_the_agreements_time_zone() -> None:
    # 24 Nov 16:30 UTC is already 25 Nov 00:30 in Shanghai
    now = datetime(2026, 11, 24, 16, 30, tzinfo=UTC).astimezone(SH)
    start, end = settlement_period(now, 25)
    assert end == sh(2026, 11, 25)
    assert end.utcoffset() == timedelta(hours=8)
    assert start == sh(2026, 10, 25)


def test_settlement_day_1_closes_the_calendar_month() -> None:
    assert settlement_period(sh(2026, 3, 1, 8), 1) == (sh(2026, 2, 1), sh(2026, 3, 1))


@pytest.mark.parametrize("settlement_day", [0, 29, 31])
def test_settlement_day_must_exist_in_every_month(settlement_day: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.28"):
        settlement_period(sh(2026, 11, 25), settlement_day)


def test_only_withdrawals_in_the_period_are_billed_start_in_end_out() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    rows = [
        Movement("withdrawal", 7, start - timedelta(seconds=1)),
        Movement("withdrawal", 10, start),
        Movement("receipt", 55, sh(2026, 11, 3)),
        Movement("adjustment", -2, sh(2026, 11, 4)),
        Movement("count", 90, sh(2026, 11, 5)),
        Movement("withdrawal", 4, end - timedelta(seconds=1)),
        Movement("withdrawal", 9, end),
    ]
    result = settle(rows, start, end, Decimal("2"))
    assert (result.qty, result.amount) == (14, Decimal("28.00"))


def test_withdrawal_late_on_the_24th_utc_belongs_to_the_next_shanghai_period() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    after_cutoff = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    result = settle([Movement("withdrawal", 5, after_cutoff)], start, end, Decimal("1"))
    assert result.qty == 0


def test_amount_is_rounded_half_up_to_the_cent() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    result = settle([Movement("withdrawal", 3, sh(2026, 11, 1))], start, end, Decimal("0.335"))
    assert result.amount == Decimal("1.01")
    assert result.unit_price == Decimal("0.335")


def test_a_period_with_no_withdrawals_bills_nothing() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    result = settle([Movement("receipt", 55, sh(2026, 11, 1))], start, end, Decimal("12.5"))
    assert (result.qty, result.amount) == (0, Decimal("0.00"))


# --- discounts: price breaks for units agreed at a discount (an overstock decision) ---------


def test_the_first_units_withdrawn_are_billed_at_the_discount_then_the_price() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    rows = [
        Movement("withdrawal", 50, sh(2026, 11, 1)),
        Movement("withdrawal", 35, sh(2026, 11, 9)),
    ]
    # 5 aged units agreed at 10.00: 5 × 10 + 80 × 12.5 = 1,050.00
    result = settle(rows, start, end, Decimal("12.5"), discounts=[(5, Decimal("10"))])
    assert (result.qty, result.discounted_qty, result.amount) == (85, 5, Decimal("1050.00"))


def test_price_breaks_apply_in_order_and_never_to_more_units_than_withdrawn() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    rows = [Movement("withdrawal", 7, sh(2026, 11, 1))]
    breaks = [(5, Decimal("10")), (10, Decimal("11"))]  # 5 at 10, then only 2 left at 11
    result = settle(rows, start, end, Decimal("12.5"), discounts=breaks)
    assert (result.discounted_qty, result.amount) == (7, Decimal("72.00"))


def test_without_discounts_the_seed_bills_85_at_12_50() -> None:
    start, end = sh(2026, 10, 25), sh(2026, 11, 25)
    result = settle([Movement("withdrawal", 85, sh(2026, 11, 5))], start, end, Decimal("12.5"))
    assert (result.amount, result.discounted_qty) == (Decimal("1062.50"), 0)


# --- adjustments: a locked period changed later goes into the next statement ---------------


def test_a_locked_period_that_lost_10_withdrawn_gives_a_minus_10_line() -> None:
    locked = Billed("S1", "6205", sh(2026, 10, 25), sh(2026, 11, 25), 95, Decimal("12.5"))
    now = {"6205": [Movement("withdrawal", 85, sh(2026, 11, 5))]}
    [line] = adjustments([locked], now)
    assert (line.statement_id, line.qty, line.amount) == ("S1", -10, Decimal("-125.00"))


def test_an_adjustment_already_carried_is_not_carried_again() -> None:
    locked = Billed("S1", "6205", sh(2026, 10, 25), sh(2026, 11, 25), 95, Decimal("12.5"), -10)
    assert adjustments([locked], {"6205": [Movement("withdrawal", 85, sh(2026, 11, 5))]}) == []


def test_a_period_that_still_reads_as_billed_needs_no_adjustment() -> None:
    locked = Billed("S1", "6205", sh(2026, 10, 25), sh(2026, 11, 25), 85, Decimal("12.5"))
    moved = {"6205": [Movement("withdrawal", 85, sh(2026, 11, 5)),
                      Movement("withdrawal", 20, sh(2026, 11, 26))]}  # fmt: skip
    assert adjustments([locked], moved) == []


def test_the_total_is_the_lines_and_the_adjustments() -> None:
    start, end = sh(2026, 11, 25), sh(2026, 12, 25)
    line = settle([Movement("withdrawal", 20, sh(2026, 12, 1))], start, end, Decimal("12.5"))
    minus = Adjustment("S1", "6205", -10, Decimal("12.5"), sh(2026, 10, 25), sh(2026, 11, 25))
    assert total([line], [minus]) == Decimal("125.00")


# --- the statement's life: both sides sign, in either order --------------------------------

T = sh(2026, 11, 25, 10)


@pytest.mark.parametrize("first", ["buyer", "supplier"])
def test_both_sides_confirm_in_either_order_and_it_locks(first: Side) -> None:
    second: Side = "supplier" if first == "buyer" else "buyer"
    draft = Statement("S1", StatementState.DRAFT)
    once = draft.confirm(first, "甲", T)
    assert once.state is StatementState.DRAFT and set(once.confirmed) == {first}
    both = once.confirm(second, "乙", T + timedelta(hours=1))
    assert both.state is StatementState.LOCKED
    assert both.confirmed[second] == Signature("乙", T + timedelta(hours=1))


def test_a_side_confirming_twice_is_told_who_did_it() -> None:
    once = Statement("S1", StatementState.DRAFT).confirm("buyer", "王采购", T)
    with pytest.raises(StatementRefused) as refused:
        once.confirm("buyer", "管理员", T + timedelta(minutes=5))
    assert refused.value.reason == "already" and refused.value.side == "buyer"
    assert refused.value.statement.confirmed["buyer"].by == "王采购"


def test_a_dispute_needs_a_reason_and_clears_the_signatures() -> None:
    once = Statement("S1", StatementState.DRAFT).confirm("supplier", "李供应", T)
    with pytest.raises(StatementRefused, match="needs_reason"):
        once.dispute("  ")
    disputed = once.dispute("11-24 盘点多算 10 件")
    assert disputed.state is StatementState.DISPUTED and disputed.confirmed == {}
    with pytest.raises(StatementRefused, match="disputed"):
        disputed.confirm("buyer", "王采购", T)
    again = disputed.reissue(changed=True)
    assert (again.state, again.revision, again.confirmed) == (StatementState.DRAFT, 2, {})


def test_a_disputed_statement_is_reissued_even_when_its_figures_did_not_change() -> None:
    disputed = Statement("S1", StatementState.DRAFT).dispute("单价不对")
    assert disputed.reissue(changed=False).revision == 2


def test_a_draft_whose_figures_hold_is_not_reissued() -> None:
    with pytest.raises(StatementRefused, match="unchanged"):
        Statement("S1", StatementState.DRAFT).reissue(changed=False)
    assert Statement("S1", StatementState.DRAFT).reissue(changed=True).revision == 2


def test_a_locked_statement_never_changes() -> None:
    locked = (
        Statement("S1", StatementState.DRAFT).confirm("buyer", "甲", T).confirm("supplier", "乙", T)
    )
    for step in (lambda: locked.dispute("晚了"), lambda: locked.reissue(changed=True),
                 lambda: locked.confirm("buyer", "丙", T)):  # fmt: skip
        with pytest.raises(StatementRefused, match="locked"):
            step()


def test_a_button_on_an_older_revision_signs_nothing() -> None:
    second = Statement("S1", StatementState.DRAFT, revision=2)
    with pytest.raises(StatementRefused, match="old_revision"):
        second.confirm("buyer", "王采购", T, revision=1)
    assert second.confirm("buyer", "王采购", T, revision=2).confirmed


@pytest.mark.parametrize(
    ("role", "party", "signed", "side"),
    [
        ("buyer", "customer", (), "buyer"),
        ("supplier", "supplier", (), "supplier"),
        ("admin", "customer", (), "buyer"),
        ("admin", "supplier", (), "supplier"),
        ("admin", None, (), "buyer"),
        ("admin", None, ("buyer",), "supplier"),
        ("warehouse", "customer", (), None),
    ],
)
def test_the_side_a_member_signs_for(
    role: str, party: str | None, signed: tuple[Side, ...], side: Side | None
) -> None:
    assert side_of(role, party, signed) == side


def test_a_discount_covers_the_next_units_withdrawn_after_it_was_agreed() -> None:
    start = sh(2026, 12, 25)
    agreed = [(30, Decimal("10.00"), sh(2026, 12, 1)), (20, Decimal("9.00"), sh(2026, 12, 10))]
    moved = [
        Movement("withdrawal", 5, sh(2026, 11, 30)),  # before any discount: full price
        Movement("withdrawal", 12, sh(2026, 12, 2)),  # the first discount's units
        Movement("receipt", 50, sh(2026, 12, 3)),
        Movement("withdrawal", 25, sh(2026, 12, 12)),  # the first's last 18, the second's 7
        Movement("withdrawal", 40, sh(2026, 12, 26)),  # in the period: not used up before it
    ]
    assert discounts_left(agreed, moved, start) == [(13, Decimal("9.00"))]
    billed = settle(
        moved, start, sh(2027, 1, 25), Decimal("12.50"), discounts_left(agreed, moved, start)
    )
    assert (billed.qty, billed.discounted_qty) == (40, 13)
    assert billed.amount == Decimal("117.00") + 27 * Decimal("12.50")
