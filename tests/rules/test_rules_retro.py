"""The month's full review (rule 11) and the suggested min/max (DESIGN §7), checked by hand."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.ledger import Movement
from vmi_rules.monthly_review import Delivery, ItemReview, review_item
from vmi_rules.suggestion import service_z, suggest
from vmi_rules.terms import Item

SH = ZoneInfo("Asia/Shanghai")
ITEM = Item("6205", "深沟球轴承", min=50, max=100, unit_price=Decimal("10"), lead_time_days=4)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SH)


# November 2026: 100 on hand from October; 30, 30, 40 withdrawn (0 on the 16th), 60 received
# on the 17th, 20 withdrawn: 120 in all. Plan 90 for the month.
NOVEMBER = [
    Movement("count", 100, at(10, 31)),
    Movement("withdrawal", 30, at(11, 2)),
    Movement("withdrawal", 30, at(11, 9)),
    Movement("withdrawal", 40, at(11, 16)),
    Movement("receipt", 60, at(11, 17)),
    Movement("withdrawal", 20, at(11, 23)),
]
START, END = at(11, 1, 0), at(12, 1, 0)


def november(**kwargs: object) -> ItemReview:
    options: dict[str, object] = {"month_plan": 90, "week_plans": {}, "overstock_days": 30}
    options.update(kwargs)
    return review_item(NOVEMBER, START, END, ITEM, **options)  # type: ignore[arg-type]


def test_wmape_and_bias_spread_the_month_plan_by_day_and_compare_by_week() -> None:
    review = november()
    # 3 a day; weeks W44 (1 day) .. W49 (1 day): planned 3 21 21 21 21 3, withdrawn 0 30 30 40 20 0
    assert [w[1] for w in review.forecast.weeks] == [3, 21, 21, 21, 21, 3]
    assert [w[2] for w in review.forecast.weeks] == [0, 30, 30, 40, 20, 0]
    assert review.forecast.planned == 90
    assert review.forecast.wmape == round(44 / 120, 4)  # 3+9+9+19+1+3 missed of 120
    assert review.forecast.bias == 0.25  # (120 - 90) / 120: demand came in over the plan


def test_a_weekly_plan_replaces_the_month_spread_for_its_days() -> None:
    review = november(month_plan=None, week_plans={"2026-W47": 35})
    assert review.forecast.weeks == (("2026-W47", 35, 40),)
    assert review.forecast.wmape == round(5 / 40, 4)
    assert review.forecast.bias == round(5 / 40, 4)


def test_no_plan_no_forecast_error() -> None:
    review = november(month_plan=None)
    assert review.forecast.wmape is None and review.forecast.bias is None
    assert review.under_plan == 0


def test_stock_out_days_are_the_days_on_hand_touched_zero() -> None:
    review = november()
    # 0 from the 16th 10:00 until the receipt on the 17th 10:00: two days
    assert review.stockout_days == 2
    assert [d.day.day for d in review.days if d.stocked_out] == [16, 17]


def test_average_stock_value_turns_and_cover() -> None:
    review = november()
    # 100·34h + 70·168h + 40·168h + 0·24h + 60·144h + 40·182h = 37800 over 720 h
    assert review.month.average_on_hand == 52.5
    assert review.average_value == Decimal("525.00")
    assert review.month.turns == round(120 / 52.5, 2)
    assert review.closing == 40
    assert review.days_of_cover == 10.0  # 40 at the end, 4 a day on average


def test_fill_rate_counts_what_could_not_be_served() -> None:
    # 11-17 ran out with nothing withdrawn: its plan of 3 went unserved (11-16 took its 40)
    assert november().unserved == 3
    assert november().fill_rate == round(120 / 123, 4)
    assert november(unserved=10).fill_rate == round(120 / 130, 4)  # as recorded, when it is


def test_a_proposal_is_late_when_stock_fell_below_min_before_its_goods_came() -> None:
    deliveries = [
        Delivery(at(11, 2, 11), at(11, 5)),  # 70 on hand the whole time: in time
        Delivery(at(11, 9, 11), at(11, 17)),  # made at 40, under the line of 50: late
    ]
    review = november(deliveries=deliveries)
    assert (review.on_time, review.late) == (1, 1)


def test_seed_5_units_aged_because_demand_came_in_5_under_the_forecast() -> None:
    seed = [
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
    review = review_item(
        seed, at(10, 25, 0), at(11, 25, 0), ITEM,
        month_plan=90, week_plans={}, overstock_days=30, emergencies=1,
    )  # fmt: skip
    assert review.month.withdrawn == 85
    assert review.forecast.planned == 90
    assert review.under_plan == 5
    assert review.month.aged == 5
    assert review.month.emergencies == 1
    assert review.stockout_days == 0


def test_z_of_the_service_level() -> None:
    assert round(service_z(0.95), 3) == 1.645
    assert round(service_z(0.5), 3) == 0.0


def test_suggested_min_and_max_from_90_days() -> None:
    # 2, 4, 2, 4 …: d = 3, σ = √(90/89); P = 3 + 4 = 7
    history = [2, 4] * 45
    found = suggest(history, ITEM, review_every_days=3, service_level=0.95)
    assert found is not None
    assert found.mean_daily == 3.0 and found.std_daily == 1.01
    assert found.protection_days == 7
    # 21 + 1.645 · 1.0056 · √7 = 25.38 → 26; max 26 + 3·3 = 35
    assert found.safety_stock == 4.4
    assert (found.min, found.max) == (26, 35)
    assert (found.current_min, found.current_max) == (50, 100)


def test_suggestion_rounds_up_to_packs_and_keeps_an_order_at_least_the_moq() -> None:
    history = [2, 4] * 45
    packed = suggest(history, Item("6205", "b", 50, 100, pack_size=10, lead_time_days=4), 3, 0.95)
    assert packed is not None and (packed.min, packed.max) == (30, 40)
    moq = suggest(history, Item("6205", "b", 50, 100, moq=20, lead_time_days=4), 3, 0.95)
    assert moq is not None and (moq.min, moq.max) == (26, 46)


def test_only_the_last_90_days_count_and_two_are_needed() -> None:
    old_and_new = [100] * 30 + [3] * 90
    found = suggest(old_and_new, ITEM, 3, 0.95)
    assert found is not None and found.days == 90 and found.mean_daily == 3.0
    assert found.std_daily == 0 and (found.min, found.max) == (21, 30)
    assert suggest([5], ITEM, 3, 0.95) is None


@pytest.mark.parametrize("level", [0.9, 0.99])
def test_a_higher_service_level_never_lowers_min(level: float) -> None:
    history = [0, 6, 1, 5] * 20
    low = suggest(history, ITEM, 3, 0.9)
    high = suggest(history, ITEM, 3, level)
    assert low is not None and high is not None and high.min >= low.min


def test_days_a_return_left_the_shelf_empty_are_not_stock_out_days() -> None:
    movements = [
        Movement("count", 40, at(10, 31)),
        Movement("return", 40, at(11, 10)),  # overstock sent back: nothing left, by choice
        Movement("count", 0, at(11, 12)),
        Movement("receipt", 60, at(11, 14)),
        Movement("withdrawal", 60, at(11, 20)),  # this one empties it: a stock-out
    ]
    review = review_item(movements, START, END, ITEM, month_plan=None, week_plans={},
                         overstock_days=30)  # fmt: skip
    assert [d.day.day for d in review.days if d.stocked_out] == list(range(20, 31))
    assert review.stockout_days == 11
    assert review.month.stock_outs == 1
