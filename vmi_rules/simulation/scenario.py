"""One item's simulated days: the demand each day, the buyer's month plans (with a forecast
error, as real plans have) and the urgent changes announced before a spike."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmi_rules.periods import Period, month_of
from vmi_rules.review import DemandPlan
from vmi_rules.simulation.demand import SPIKE, with_spike

FORECAST_ERROR = 0.1  # the plan's error, a share of the month (seed: 5 off a plan of 90)
SPIKE_CHANCE = 1 / 6  # about two urgent changes a year
NOTICE_DAYS = 10  # the seed's change came on 11-20 for the next month


@dataclass(frozen=True)
class UrgentChange:
    """The buyer's urgent change (紧急需求): on day `announced` the requirement of `period`
    becomes `qty` instead of `was` (the seed's 90 → 120)."""

    announced: int
    period: Period
    was: int
    qty: int


@dataclass(frozen=True)
class Scenario:
    """The days one item is simulated over, from `start` (a local midnight)."""

    sku: str
    start: datetime
    demand: tuple[int, ...]
    plans: tuple[DemandPlan, ...] = ()
    urgent: tuple[UrgentChange, ...] = ()
    history: tuple[int, ...] = ()  # daily withdrawals before day 0, for the suggestion

    @property
    def days(self) -> int:
        """How many days are simulated."""
        return len(self.demand)


def months(start: datetime, days: int) -> list[tuple[Period, int, int]]:
    """The calendar months the days touch: (month, its first day index, its last + 1)."""
    out: list[tuple[Period, int, int]] = []
    day = 0
    while day < days:
        period = month_of((start + timedelta(days=day)).date())
        end = min(days, day + (period.end - (start + timedelta(days=day)).date()).days)
        out.append((period, day, end))
        day = end
    return out


def planned(
    sku: str,
    demand: Sequence[int],
    start: datetime,
    rng: random.Random,
    error: float = FORECAST_ERROR,
) -> list[DemandPlan]:
    """A month plan for each month the days touch: the month's demand (a part month scaled up
    to the whole) off by a normal forecast error of `error`, never below 0."""
    plans = []
    for period, first, last in months(start, len(demand)):
        used = sum(demand[first:last]) * period.days / (last - first)
        qty = max(0, round(used * (1.0 + rng.gauss(0.0, error))))
        plans.append(DemandPlan(sku, period, qty))
    return plans


def scenario(
    sku: str,
    demand: Sequence[int],
    start: datetime,
    rng: random.Random,
    *,
    history: Sequence[int] = (),
    spikes: bool = True,
) -> Scenario:
    """The days of `demand` with plans and, when `spikes`, the seed's urgent changes: a whole
    month (not the first) raised 90 → 120 with chance 1/6, announced 10 days before it."""
    days = list(demand)
    changes = []
    plans = planned(sku, days, start, rng)
    if spikes:
        for (period, first, last), plan in zip(months(start, len(days)), plans, strict=True):
            whole = last - first == period.days
            if first >= NOTICE_DAYS and whole and rng.random() < SPIKE_CHANCE:
                old, new = SPIKE
                days = with_spike(days, first, last, new, old)
                qty = round(plan.qty * new / old)
                changes.append(UrgentChange(first - NOTICE_DAYS, period, plan.qty, qty))
    return Scenario(sku, start, tuple(days), tuple(plans), tuple(changes), tuple(history))
