"""The overstock joint review (rule 9), with the seed's numbers: max 100, 30 days."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from vmi_rules.aging import lots
from vmi_rules.ledger import Movement, on_hand
from vmi_rules.overstock import (
    AgedStock,
    PastAlert,
    aged_stock,
    alert_due,
    check_discount,
    check_return,
    may_choose,
    suggested_return,
    value,
)

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, 10, 0, tzinfo=SH)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


SEED = [Movement("count", 130, day(0))]  # 130 on the shelf, above max 100, none withdrawn


def test_units_not_withdrawn_for_30_days_above_max_are_due_once() -> None:
    assert aged_stock(SEED, day(29.9), 30) is None
    aged = aged_stock(SEED, day(30), 30)
    assert aged == AgedStock(130, day(0), day(0))
    assert aged.age_days(day(30)) == 30
    assert alert_due(aged, 130, 100, None, day(30)) == "new"
    raised = PastAlert(covers_until=day(0), raised_at=day(30))
    assert alert_due(aged_stock(SEED, day(31), 30), 130, 100, raised, day(31)) is None


def test_an_unanswered_alert_is_raised_again_after_7_days_once() -> None:
    raised = PastAlert(covers_until=day(0), raised_at=day(30))
    aged = aged_stock(SEED, day(37), 30)
    assert alert_due(aged, 130, 100, raised, day(36.9)) is None
    assert alert_due(aged, 130, 100, raised, day(37)) == "again"
    again = PastAlert(covers_until=day(0), raised_at=day(30), repeated_at=day(37))
    assert alert_due(aged, 130, 100, again, day(60)) is None


def test_a_later_lot_crossing_the_age_raises_a_new_alert() -> None:
    rows = [*SEED, Movement("receipt", 40, day(10))]
    raised = PastAlert(covers_until=day(0), raised_at=day(30), repeated_at=day(37))
    assert alert_due(aged_stock(rows, day(39), 30), 170, 100, raised, day(39)) is None
    aged = aged_stock(rows, day(40), 30)
    assert aged == AgedStock(170, day(0), day(10))
    assert alert_due(aged, 170, 100, raised, day(40)) == "new"


def test_nothing_is_due_at_or_below_max() -> None:
    rows = [*SEED, Movement("withdrawal", 30, day(5))]
    aged = aged_stock(rows, day(30), 30)
    assert aged is not None and aged.qty == 100
    assert alert_due(aged, on_hand(rows), 100, None, day(30)) is None


def test_keep_watching_waits_a_week_then_once_and_a_return_settles_it() -> None:
    aged = aged_stock(SEED, day(45), 30)
    kept = PastAlert(day(0), day(30), choice="keep", decided_at=day(32))
    assert alert_due(aged, 130, 100, kept, day(38)) is None
    assert alert_due(aged, 130, 100, kept, day(39)) == "again"
    returned = PastAlert(day(0), day(30), choice="return", decided_at=day(31))
    assert alert_due(aged, 130, 100, returned, day(45)) is None


def test_who_may_still_choose() -> None:
    assert may_choose(PastAlert(day(0), day(30)))
    assert not may_choose(PastAlert(day(0), day(30), choice="discount", decided_at=day(31)))
    kept = PastAlert(day(0), day(30), choice="keep", decided_at=day(31))
    assert not may_choose(kept)
    assert may_choose(PastAlert(day(0), day(30), day(38), "keep", day(31)))


def test_a_return_takes_the_oldest_units_and_only_aged_ones() -> None:
    rows = [*SEED, Movement("receipt", 40, day(25)), Movement("return", 30, day(31))]
    assert on_hand(rows) == 140
    assert [(lot.since, lot.qty) for lot in lots(rows)] == [(day(0), 100), (day(25), 40)]
    assert check_return(30, 130) is None
    assert check_return(131, 130) == "over_aged"
    assert check_return(1, 0) == "nothing_aged"
    assert suggested_return(130, 130, 100) == 30


def test_value_and_discount_price() -> None:
    assert value(30, Decimal("12.5")) == Decimal("375.00")
    assert check_discount(Decimal("10.00"), Decimal("12.5"))
    assert not check_discount(Decimal("12.5"), Decimal("12.5"))
    assert not check_discount(Decimal("0"), Decimal("12.5"))
