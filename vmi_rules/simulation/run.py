"""A whole simulation: every item of an agreement under the three policies, and the figures."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from vmi_rules.simulation.demand import DemandKind, bootstrap, classify, generate
from vmi_rules.simulation.figures import Figures, figures
from vmi_rules.simulation.policies import (
    POLICIES,
    PolicyName,
    TraditionalTerms,
    build,
    suggested,
    traditional_terms,
)
from vmi_rules.simulation.replay import Outcome, days_of, replay
from vmi_rules.simulation.scenario import Scenario, scenario
from vmi_rules.suggestion import HISTORY_DAYS
from vmi_rules.terms import AgreementTerms, Item

DEFAULT_DAYS = 365
# without history or a plan, an item's max is taken as about a month's use (6205: 100 a
# month; the seed's plant used 80 to 90)
MONTH_DAYS = 30


@dataclass(frozen=True)
class ItemRun:
    """One item: its days, the terms each policy ran with, and each policy's outcome."""

    item: Item
    scenario: Scenario
    suggested: Item  # the item with the min/max suggested on day 0
    traditional: TraditionalTerms
    outcomes: Mapping[PolicyName, Outcome]
    cycle_days: int  # the review cycle, for the cycle service level

    def figures(self, name: PolicyName) -> Figures:
        """The item's own figures under one policy."""
        return figures([(self.outcomes[name], float(self.item.unit_price))], self.cycle_days)


@dataclass(frozen=True)
class Simulation:
    """Every item's run and each policy's figures summed over the items."""

    items: tuple[ItemRun, ...]
    totals: Mapping[PolicyName, Figures]


def default_mean(item: Item) -> float:
    """The daily demand assumed for an item with no history and no plan: max over a month."""
    return item.max / MONTH_DAYS


def generated(
    item: Item,
    kind: DemandKind | None,
    mean_daily: float,
    days: int,
    start: datetime,
    rng: random.Random,
    history: Sequence[int] = (),
) -> Scenario:
    """An item's scenario: demand of `kind` (None: `history` bootstrapped), 90 days before
    day 0 of the same (for the suggestion), plans with an error, and urgent changes for
    generated demand."""
    if kind is None:
        past = list(history[-HISTORY_DAYS:])
        return scenario(item.sku, bootstrap(history, days, rng), start, rng, history=past,
                        spikes=False)  # fmt: skip
    made = generate(kind, mean_daily, HISTORY_DAYS + days, rng)
    return scenario(item.sku, made[HISTORY_DAYS:], start, rng, history=made[:HISTORY_DAYS])


def simulate(
    terms: AgreementTerms,
    scenarios: Mapping[str, Scenario],
    histories: Mapping[str, Sequence[int]] | None = None,
) -> Simulation:
    """Run every item that has a scenario under each policy. `histories` are the real daily
    withdrawals per sku (the traditional order's "from history"); none: the seed's figures."""
    runs = []
    shared: dict[tuple[datetime, int], list[datetime]] = {}
    for item in terms.items:
        days = scenarios.get(item.sku)
        if days is None:
            continue
        mornings = shared.setdefault((days.start, days.days), days_of(days))
        blind = traditional_terms(item, (histories or {}).get(item.sku, ()))
        outcomes = {}
        for name in POLICIES:
            policy = build(name, item, terms, days.plans, days.history, blind)
            price = float(item.unit_price)
            outcomes[name] = replay(policy, days, price, item.lead_time_days, mornings)
        start_item = suggested(item, terms, days.history)
        runs.append(ItemRun(item, days, start_item, blind, outcomes, terms.review_every_days))
    totals = {
        name: figures(
            [(run.outcomes[name], float(run.item.unit_price)) for run in runs],
            terms.review_every_days,
        )
        for name in POLICIES
    }
    return Simulation(tuple(runs), totals)


def demand_class(run: ItemRun) -> DemandKind | None:
    """The Syntetos–Boylan class of the item's simulated demand."""
    return classify(run.scenario.demand)
