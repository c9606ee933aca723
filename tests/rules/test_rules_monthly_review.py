"""The monthly review (rule 11) with the seed's month."""

from datetime import datetime
from zoneinfo import ZoneInfo

from vmi_rules.ledger import Movement
from vmi_rules.monthly_review import review_month

SH = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SH)


# Counted 90, counted down to 45 (45 withdrawn), 55 received, 40 more withdrawn: 85 in all.
SEED_MONTH = [
    Movement("count", 90, at(10, 25)),
    Movement("withdrawal", 20, at(10, 27)),
    Movement("count", 70, at(10, 27)),
    Movement("withdrawal", 25, at(10, 29)),
    Movement("count", 45, at(10, 29)),
    Movement("receipt", 55, at(10, 31)),
    Movement("withdrawal", 10, at(11, 5)),
    Movement("withdrawal", 15, at(11, 12)),
    Movement("withdrawal", 15, at(11, 19)),
]
START, END = at(10, 25, 0), at(11, 25, 0)


def test_seed_5_units_aged_because_demand_came_in_5_under_the_plan_of_90() -> None:
    month = review_month(SEED_MONTH, START, END, planned=90, overstock_days=30)
    assert month.withdrawn == 85
    assert month.forecast_error == -5
    # the first count's units go first (FIFO): 5 of them are still here after 31 days
    assert month.aged == 5


def test_average_stock_and_turns_weigh_each_level_by_how_long_it_stood() -> None:
    month = review_month(
        [Movement("count", 100, START), Movement("withdrawal", 50, at(11, 9, 12))],
        START,
        END,
        planned=None,
        overstock_days=30,
    )
    # 100 for the first half of the 31 days, 50 for the second half
    assert month.average_on_hand == 75.0
    assert month.turns == round(50 / 75, 2)
    assert month.forecast_error is None


def test_a_count_of_zero_is_a_stock_out() -> None:
    month = review_month(
        [Movement("count", 10, START), Movement("withdrawal", 10, at(11, 1)),
         Movement("count", 0, at(11, 2)), Movement("receipt", 50, at(11, 3))],
        START, END, planned=None, overstock_days=30,
    )  # fmt: skip
    assert month.stock_outs == 1


def test_a_return_that_empties_the_shelf_is_not_a_stock_out() -> None:
    month = review_month(
        [Movement("count", 30, START), Movement("return", 30, at(11, 1)),
         Movement("count", 0, at(11, 3)), Movement("receipt", 50, at(11, 5))],
        START, END, planned=None, overstock_days=30,
    )  # fmt: skip
    assert month.stock_outs == 0


def test_a_withdrawal_after_a_return_emptied_the_shelf_is_a_stock_out() -> None:
    month = review_month(
        [Movement("count", 30, START), Movement("return", 30, at(11, 1)),
         Movement("withdrawal", 5, at(11, 3)), Movement("receipt", 50, at(11, 5))],
        START, END, planned=None, overstock_days=30,
    )  # fmt: skip
    assert month.stock_outs == 1


def test_unserved_demand_is_estimated_on_the_days_the_shelf_ran_out() -> None:
    from datetime import date

    from vmi_rules.daily import DayStock
    from vmi_rules.monthly_review import unserved_on_stockout_days

    days = [
        DayStock(date(2026, 11, 2), 16, 6, 6, withdrawn=10, received=0),
        DayStock(date(2026, 11, 3), 6, 0, 0, withdrawn=6, received=0),  # ran out at the end
        DayStock(date(2026, 11, 4), 0, 0, 0, withdrawn=0, received=0, ran_out=True),
        DayStock(date(2026, 11, 5), 2, 0, 0, withdrawn=2, received=2, ran_out=True),
    ]
    # no plan: the usual day takes (10 + 6) / 2 = 8; lost 8 - 0 and 8 - 2
    assert unserved_on_stockout_days(days, [None] * 4) == 14
    # with a plan of 5 a day: lost 5 - 0 and 5 - 2
    assert unserved_on_stockout_days(days, [5.0] * 4) == 8
    # nothing ran out, nothing lost
    assert unserved_on_stockout_days(days[:2], [None, None]) == 0
