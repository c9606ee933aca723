"""Settlement on withdrawals only, and its periods (rules 6, 10)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.ledger import Movement
from vmi_rules.settlement import settle, settlement_period

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
