"""Stock aging, first in first out, and overstock (rule 9)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from vmi_rules.aging import Lot, aged_qty, lots, overstock
from vmi_rules.ledger import Movement
from vmi_rules.terms import Item

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=SH)
BEARING = Item(sku="6205", name="6205 深沟球轴承", min=50, max=100)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def test_receipts_each_make_a_lot() -> None:
    rows = [Movement("receipt", 30, day(0)), Movement("receipt", 20, day(2))]
    assert lots(rows) == [Lot(day(0), 30), Lot(day(2), 20)]


def test_withdrawals_use_the_oldest_lots_first() -> None:
    rows = [
        Movement("receipt", 30, day(0)),
        Movement("receipt", 20, day(2)),
        Movement("withdrawal", 35, day(3)),
    ]
    assert lots(rows) == [Lot(day(2), 15)]


def test_withdrawing_more_than_the_lots_hold_empties_them() -> None:
    rows = [Movement("receipt", 10, day(0)), Movement("withdrawal", 15, day(1))]
    assert lots(rows) == []


def test_first_count_is_one_lot_dated_at_the_count() -> None:
    rows = [Movement("receipt", 10, day(0)), Movement("count", 45, day(1))]
    assert lots(rows) == [Lot(day(1), 45)]


def test_count_above_the_lots_adds_the_difference_as_a_new_lot() -> None:
    rows = [Movement("count", 45, day(0)), Movement("count", 50, day(4))]
    assert lots(rows) == [Lot(day(0), 45), Lot(day(4), 5)]


def test_count_below_the_lots_takes_the_difference_from_the_oldest() -> None:
    rows = [
        Movement("count", 45, day(0)),
        Movement("receipt", 55, day(3)),
        Movement("count", 80, day(5)),
    ]
    assert lots(rows) == [Lot(day(0), 25), Lot(day(3), 55)]


def test_adjustments_add_a_lot_or_take_from_the_oldest() -> None:
    rows = [
        Movement("count", 40, day(0)),
        Movement("adjustment", 6, day(1)),
        Movement("adjustment", -10, day(2)),
    ]
    assert lots(rows) == [Lot(day(0), 30), Lot(day(1), 6)]


def test_units_reach_the_overstock_age_on_the_day_itself() -> None:
    rows = [Movement("receipt", 12, day(0)), Movement("receipt", 8, day(20))]
    assert aged_qty(rows, day(30) - timedelta(seconds=1), 30) == 0
    assert aged_qty(rows, day(30), 30) == 12
    assert aged_qty(rows, day(50), 30) == 20


def test_overstock_needs_stock_above_max_and_aged_units() -> None:
    assert overstock(105, BEARING, 5)
    assert not overstock(100, BEARING, 5)
    assert not overstock(105, BEARING, 0)
