"""The simulation's rules with hand-checked numbers: constant demand, the seed's urgent change
(position 100, requirement 120: 20 rushed, freight split 50/50), the seed's month (45 on hand
on a review day: 55 proposed), the demand classes and determinism."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.periods import month_of
from vmi_rules.review import DemandPlan
from vmi_rules.simulation.demand import KINDS, bootstrap, classify, generate
from vmi_rules.simulation.figures import claims, differences, figures
from vmi_rules.simulation.policies import Traditional, TraditionalTerms, Vmi, traditional_terms
from vmi_rules.simulation.replay import EMERGENCY_SURCHARGE, FREIGHT_RATE, replay
from vmi_rules.simulation.run import default_mean, generated, simulate
from vmi_rules.simulation.scenario import Scenario, UrgentChange
from vmi_rules.terms import AgreementTerms, Item

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, tzinfo=ZONE)
BEARING = Item("6205", "6205 深沟球轴承", min=50, max=100, unit_price=Decimal("12.5"),
               lead_time_days=3)  # fmt: skip
TERMS = AgreementTerms(review_every_days=3, items=(BEARING,))


def test_constant_demand_orders_on_the_first_review_day_below_min_and_never_runs_out() -> None:
    days = Scenario("6205", START, (5,) * 60)
    out = replay(Vmi(BEARING, TERMS, ()), days, 12.5, BEARING.lead_time_days)
    # mornings of review days 0, 3, 6, 9, 12: 100, 85, 70, 55, 40 → on day 12, 100 − 40
    assert out.ordered[:12] == [0] * 12 and out.ordered[12] == 60
    assert out.closing[14] == 25 and out.closing[15] == 80  # in on day 15, after 3 days
    assert out.stockout_days == 0 and min(out.closing) > 0
    ordered_on = [t for t, qty in enumerate(out.ordered) if qty]
    for day in ordered_on:  # every order: the position that morning was under min, to max
        level = out.closing[day - 1] if day else 100
        on_way = sum(out.ordered[d] for d in ordered_on if day - 3 < d < day)
        assert level + on_way < BEARING.min
        assert out.ordered[day] == BEARING.max - level - on_way
    assert out.emergencies == 0


def test_the_seeds_urgent_change_tops_up_20_and_splits_the_freight_as_agreed() -> None:
    december = month_of(datetime(2026, 12, 1).date())
    change = UrgentChange(announced=5, period=december, was=90, qty=120)
    days = Scenario("6205", START, (0,) * 10, urgent=(change,))
    vmi = replay(Vmi(BEARING, TERMS, ()), days, 12.5, 3)  # position 100, requirement 120
    assert (vmi.emergencies, vmi.emergency_units, vmi.ordered[5]) == (1, 20, 20)
    assert vmi.closing[5] == 100 and vmi.closing[6] == 120  # rushed: in the next morning
    freight = 20 * 12.5 * FREIGHT_RATE * (1 + EMERGENCY_SURCHARGE)
    assert vmi.emergency_freight == pytest.approx(freight)  # the seed's 30 % more
    assert vmi.emergency_freight_customer == pytest.approx(freight * 0.5)  # customer pays 50 %
    blind = replay(Traditional(BEARING, TraditionalTerms(200, 300)), days, 12.5, 3)
    # without the stock in view, the supplier rushes the whole increase, freight all its own
    assert (blind.emergencies, blind.emergency_units, blind.emergency_freight_customer) == (
        1, 30, 0.0,
    )  # fmt: skip


def test_the_seeds_month_proposes_55_when_45_are_left_on_a_review_day() -> None:
    # 10-25 count 90; 10-27 count 70; 10-29 count 45 and the review; plan 90 for November
    start = datetime(2026, 10, 26, tzinfo=ZONE)  # day 0 a review day, so 10-29 is one too
    november = DemandPlan("6205", month_of(datetime(2026, 11, 1).date()), 90)
    days = Scenario("6205", start, (10, 12, 13, 0, 0), plans=(november,))
    out = replay(Vmi(BEARING, TERMS, (november,), opening=80), days, 12.5, 3)
    assert out.closing[:3] == [70, 58, 45]
    assert out.ordered == [0, 0, 0, 55, 0]  # 100 − 45, as the bot's P1


def test_traditional_orders_its_fixed_month_under_its_safety_stock() -> None:
    assert traditional_terms(BEARING) == TraditionalTerms(200, 300)  # the seed's plant
    assert traditional_terms(BEARING, [3] * 90).monthly_qty == 92  # 3 a day, a month of 30.4
    days = Scenario("6205", START, (10,) * 40)
    out = replay(Traditional(BEARING, TraditionalTerms(200, 300)), days, 12.5, 3)
    assert out.ordered[0] == 0  # at its safety stock: no order yet
    # 300 last 30 days: empty on the evening of 11-30, a month's 200 rushed in for 12-01;
    # 12-01 is the first of a month and 200 is under 300: the fixed 200 ordered too
    assert (out.ordered[29], out.ordered[30]) == (200, 200)
    assert (out.emergencies, out.orders, out.stockout_days) == (1, 1, 0)
    assert out.closing[29] == 0 and out.closing[33] == 200 - 40 + 200


def test_running_out_rushes_a_months_quantity_in_for_the_traditional_plant() -> None:
    days = Scenario("6205", START, (0, 50, 0, 0))
    out = replay(Traditional(BEARING, TraditionalTerms(200, 30)), days, 12.5, 3)
    assert out.stockout_days == 1 and out.served[1] == 30
    assert out.emergencies == 1 and out.closing[2] == 200  # the next morning


@pytest.mark.parametrize("kind", ["smooth", "erratic", "intermittent", "lumpy"])
def test_generated_demand_falls_in_its_syntetos_boylan_class(kind: str) -> None:
    series = generate(kind, 3.0, 365, random.Random(11))  # type: ignore[arg-type]
    assert classify(series) == kind
    assert 2.0 < sum(series) / 365 < 4.0


def test_seasonal_demand_swings_over_the_year_and_a_bootstrap_keeps_the_history() -> None:
    series = generate("seasonal", 4.0, 365, random.Random(2))
    assert sum(series[60:120]) > 1.5 * sum(series[240:300])  # spring high, autumn low
    history = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    stretched = bootstrap(history, 30, random.Random(1))
    assert len(stretched) == 30 and set(stretched) <= set(history)
    assert bootstrap([], 5, random.Random(1)) == [0] * 5


def test_the_same_seed_gives_the_same_figures_and_another_seed_others() -> None:
    items = tuple(replace(BEARING, sku=f"62{n:02d}") for n in range(3))
    terms = replace(TERMS, items=items)

    def run(seed: int) -> dict[str, object]:
        rng = random.Random(seed)
        days = {i.sku: generated(i, "lumpy", default_mean(i), 200, START, rng) for i in items}
        done = simulate(terms, days)
        return {name: f.as_json() for name, f in done.totals.items()}

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_figures_sum_over_items_and_claims_are_judged_against_the_seed() -> None:
    rng = random.Random(3)
    days = {BEARING.sku: generated(BEARING, "smooth", 3.0, 365, START, rng)}
    done = simulate(TERMS, days)
    blind, vmi = done.totals["traditional"], done.totals["vmi"]
    [run] = done.items
    assert figures([(run.outcomes["vmi"], 12.5)], 3) == vmi  # one item: its own figures
    assert vmi.avg_stock_value == pytest.approx(vmi.avg_stock_units * 12.5)
    assert vmi.fill_rate == vmi.served_units / vmi.demand_units
    change = differences(vmi, blind)["avg_stock_value"]
    assert change is not None and change < -30  # 300 of safety stock against min 50 / max 100
    said = {c.key: c.met for c in claims(vmi, blind)}
    assert said["stock_value"] and said["stockout_rate"] == (vmi.stockout_rate < 0.05)
    if vmi.emergency_shipments or blind.emergency_shipments:
        assert said["emergencies"] == (vmi.emergency_shipments < blind.emergency_shipments)
    else:
        assert said["emergencies"] is None  # neither had one: the run cannot show it
    assert set(KINDS) == {"smooth", "erratic", "intermittent", "lumpy", "seasonal"}
