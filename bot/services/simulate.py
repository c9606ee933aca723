"""`vmi-bot simulate` and the chat's what-if: an agreement's items replayed day by day under
traditional ordering, VMI as the bot runs it and VMI with the suggested min/max
(vmi_rules.simulation). Reads the agreement as amended and its withdrawals; records nothing.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlmodel import Session

from bot.config import AgreementConfig
from bot.storage.plans import plans_by_item
from bot.storage.stock import movements_by_item
from vmi_rules.daily import daily_stock
from vmi_rules.ledger import Movement
from vmi_rules.review import DemandPlan
from vmi_rules.simulation.demand import KINDS, DemandKind
from vmi_rules.simulation.figures import Figures, claims, differences, figures
from vmi_rules.simulation.policies import Vmi
from vmi_rules.simulation.replay import replay
from vmi_rules.simulation.run import (
    ItemRun,
    Simulation,
    default_mean,
    demand_class,
    generated,
    simulate,
)
from vmi_rules.simulation.scenario import Scenario
from vmi_rules.suggestion import HISTORY_DAYS
from vmi_rules.terms import Item

DEMANDS = (*KINDS, "history")
# generated days start here whatever today is, so a seed gives the same figures any day
START = date(2026, 1, 1)
WHAT_IF_DAYS = 90


class NoHistory(ValueError):
    """The agreement (or the item) has no withdrawals to replay yet."""


@dataclass(frozen=True)
class Run:
    """A simulation of one agreement, with what it was asked."""

    agreement: AgreementConfig
    days: int
    seed: int
    demand: str
    simulation: Simulation

    def as_json(self) -> dict[str, Any]:
        """The run as `vmi-bot simulate --json` prints it (keys only ever added)."""
        totals = self.simulation.totals
        vmi, blind = totals["vmi"], totals["traditional"]
        return {
            "agreement": self.agreement.id,
            "days": self.days,
            "seed": self.seed,
            "demand": self.demand,
            "start": START.isoformat(),
            "items": [_item_json(run) for run in self.simulation.items],
            "policies": {name: figures.as_json() for name, figures in totals.items()},
            "vmi_vs_traditional_pct": differences(vmi, blind),
            "vmi_suggested_vs_traditional_pct": differences(totals["vmi_suggested"], blind),
            "claims": {
                claim.key: {
                    "met": claim.met,
                    "vmi": _rounded(claim.vmi),
                    "traditional": _rounded(claim.traditional),
                }
                for claim in claims(vmi, blind)
            },
        }


def _rounded(value: float) -> float:
    return round(value, 4)


def _item_json(run: ItemRun) -> dict[str, Any]:
    item = run.item
    days = run.scenario.demand
    return {
        "sku": item.sku,
        "name": item.name,
        "min": item.min,
        "max": item.max,
        "suggested_min": run.suggested.min,
        "suggested_max": run.suggested.max,
        "traditional_monthly_qty": run.traditional.monthly_qty,
        "traditional_safety_stock": run.traditional.safety_stock,
        "mean_daily_demand": round(statistics.fmean(days), 2) if days else 0.0,
        "demand_class": demand_class(run),
        "urgent_changes": len(run.scenario.urgent),
        "policies": {name: run.figures(name).as_json() for name in run.outcomes},
    }


def local_midnight(agreement: AgreementConfig, day: date) -> datetime:
    """The start of a day on the agreement's clock."""
    return datetime.combine(day, datetime.min.time(), tzinfo=agreement.tz)


def withdrawals_before(
    agreement: AgreementConfig, movements: list[Movement], now: datetime, days: int
) -> list[int]:
    """The daily withdrawals of the `days` whole days before today (fewer when the ledger
    began later); empty without any movement."""
    if not movements:
        return []
    today = local_midnight(agreement, now.astimezone(agreement.tz).date())
    first = min(m.at for m in movements).astimezone(agreement.tz).date()
    start = max(today - timedelta(days=days), local_midnight(agreement, first))
    if start >= today:
        return []
    return [d.withdrawn for d in daily_stock(movements, start, today)]


def run_simulation(
    session: Session,
    agreement: AgreementConfig,
    now: datetime,
    *,
    days: int = 365,
    seed: int = 0,
    demand: str = "smooth",
) -> Run:
    """Simulate every item of the agreement (pass it as amended: bot.services.terms
    `effective_agreement`). `demand` is one of DEMANDS; "history" bootstraps each item's own
    withdrawals of the last 90 days and raises NoHistory when there are none."""
    if demand not in DEMANDS:
        raise ValueError(f"no demand {demand!r}: one of {', '.join(DEMANDS)}")
    rng = random.Random(seed)
    start = local_midnight(agreement, START)
    found = movements_by_item(session, [agreement.id])
    plans = plans_by_item(session, [agreement.id], now.astimezone(agreement.tz).date())
    scenarios: dict[str, Scenario] = {}
    histories: dict[str, list[int]] = {}
    for item in agreement.items:
        movements = found.get((agreement.id, item.sku), [])
        history = withdrawals_before(agreement, movements, now, HISTORY_DAYS)
        if any(history):
            histories[item.sku] = history
        if demand == "history":
            if not any(history):
                continue
            scenarios[item.sku] = generated(item, None, 0.0, days, start, rng, history)
            continue
        mean = _mean_daily(item, history, plans.get((agreement.id, item.sku), []))
        scenarios[item.sku] = generated(item, cast(DemandKind, demand), mean, days, start, rng)
    if not scenarios:
        raise NoHistory(f"{agreement.id} has no withdrawals in the last {HISTORY_DAYS} days")
    done = simulate(agreement.terms, scenarios, histories)
    return Run(agreement, days, seed, demand, done)


def _mean_daily(item: Item, history: list[int], plans: list[DemandPlan]) -> float:
    """The daily demand to generate around: the history's, else the latest plan's, else the
    item's max over a month."""
    if any(history):
        return statistics.fmean(history)
    if plans:
        latest = plans[-1]
        return float(latest.qty) / latest.period.days
    return default_mean(item)


@dataclass(frozen=True)
class WhatIfSide:
    """One side of a what-if: the min and max, and how the 90 days would have gone."""

    min: int
    max: int
    figures: Figures


@dataclass(frozen=True)
class WhatIf:
    """An item's last 90 days replayed under its terms as they are and as proposed."""

    item: Item
    days: int
    now: WhatIfSide
    proposed: WhatIfSide


def what_if(
    session: Session,
    agreement: AgreementConfig,
    item: Item,
    new_min: int,
    new_max: int,
    now: datetime,
) -> WhatIf:
    """Replay the item's real withdrawals of the last 90 days (from the first day the ledger
    knows) under the bot's review with its min/max and with `new_min`/`new_max`, from the
    stock it had then. Raises NoHistory when nothing was withdrawn in those days."""
    movements = movements_by_item(session, [agreement.id]).get((agreement.id, item.sku), [])
    today = local_midnight(agreement, now.astimezone(agreement.tz).date())
    start = today - timedelta(days=WHAT_IF_DAYS)
    days = [d for d in daily_stock(movements, start, today) if d.known]
    if not any(d.withdrawn for d in days):
        raise NoHistory(f"{item.sku} has no withdrawals in the last {WHAT_IF_DAYS} days")
    first = days[0]
    opening = first.closing + first.withdrawn - first.received  # before that day's movements
    began = local_midnight(agreement, first.day)
    plans = plans_by_item(session, [agreement.id], first.day).get((agreement.id, item.sku), [])
    days_replayed = Scenario(item.sku, began, tuple(d.withdrawn for d in days), tuple(plans))
    sides = []
    for low, high in ((item.min, item.max), (new_min, new_max)):
        terms_item = replace(item, min=low, max=high)
        policy = Vmi(terms_item, agreement.terms, plans, opening=max(opening, 0))
        outcome = replay(policy, days_replayed, float(item.unit_price), item.lead_time_days)
        shown = figures([(outcome, float(item.unit_price))], agreement.terms.review_every_days)
        sides.append(WhatIfSide(low, high, shown))
    return WhatIf(item, len(days), sides[0], sides[1])
