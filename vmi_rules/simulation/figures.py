"""The figures of a policy over the simulated days, for one item or summed over several:
counts and amounts are sums over the items, rates are rates of the sums.

- average stock: the evenings' on hand, in units and at the unit price;
- stock-out days (item-days with demand short) and the stock-out rate (their share of days);
- fill rate: demand served from the shelf ÷ demand;
- cycle service level: the share of review cycles (item by item) without a stock-out;
- orders (regular), emergency shipments and their freight (the customer's share beside it);
- turns: units served in a year ÷ average stock;
- bullwhip: variance of the units ordered ÷ variance of the demand, week by week.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vmi_rules.simulation.replay import Outcome

WEEK = 7
YEAR_DAYS = 365
# the seed's claims: 库存资金占用减少 30%-50%, 缺货率从 15% 降到 5% 以下, fewer emergencies
CLAIM_STOCK_CUT = 0.30
CLAIM_STOCKOUT_RATE = 0.05


@dataclass(frozen=True)
class Figures:
    """One policy's figures (see the module's doc for each)."""

    avg_stock_units: float
    avg_stock_value: float
    stockout_days: int
    stockout_rate: float
    fill_rate: float
    cycle_service_level: float
    orders: int
    emergency_shipments: int
    emergency_units: int
    emergency_freight: float
    emergency_freight_customer: float
    emergency_freight_supplier: float
    turns: float | None
    bullwhip: float | None
    demand_units: int
    served_units: int

    def as_json(self) -> dict[str, Any]:
        """The figures with floats rounded: 2 places for units and money, 4 for rates."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, float):
                rate = key in ("stockout_rate", "fill_rate", "cycle_service_level")
                value = round(value, 4 if rate else 2)
            out[key] = value
        return out


def figures(outcomes: Sequence[tuple[Outcome, float]], cycle_days: int) -> Figures:
    """The figures of (outcome, unit price) pairs, one per item, all over the same days."""
    days = len(outcomes[0][0].closing) if outcomes else 0
    avg_units = [statistics.fmean(o.closing) if o.closing else 0.0 for o, _ in outcomes]
    demand = sum(sum(o.demand) for o, _ in outcomes)
    served = sum(sum(o.served) for o, _ in outcomes)
    stockout_days = sum(o.stockout_days for o, _ in outcomes)
    cycles = ok_cycles = 0
    for outcome, _ in outcomes:
        for first in range(0, days, max(cycle_days, 1)):
            cycles += 1
            span = range(first, min(days, first + cycle_days))
            ok_cycles += all(outcome.served[t] >= outcome.demand[t] for t in span)
    freight = sum(o.emergency_freight for o, _ in outcomes)
    customer = sum(o.emergency_freight_customer for o, _ in outcomes)
    total_units = sum(avg_units)
    return Figures(
        avg_stock_units=total_units,
        avg_stock_value=sum(a * price for a, (_, price) in zip(avg_units, outcomes, strict=True)),
        stockout_days=stockout_days,
        stockout_rate=stockout_days / (days * len(outcomes)) if days and outcomes else 0.0,
        fill_rate=served / demand if demand else 1.0,
        cycle_service_level=ok_cycles / cycles if cycles else 1.0,
        orders=sum(o.orders for o, _ in outcomes),
        emergency_shipments=sum(o.emergencies for o, _ in outcomes),
        emergency_units=sum(o.emergency_units for o, _ in outcomes),
        emergency_freight=freight,
        emergency_freight_customer=customer,
        emergency_freight_supplier=freight - customer,
        turns=served / total_units * YEAR_DAYS / days if total_units and days else None,
        bullwhip=bullwhip([o for o, _ in outcomes]),
        demand_units=demand,
        served_units=served,
    )


def bullwhip(outcomes: Sequence[Outcome]) -> float | None:
    """Variance of the weekly units ordered ÷ variance of the weekly demand, over the items'
    sums; None when demand does not vary (or there are under two whole weeks)."""
    if not outcomes:
        return None
    days = len(outcomes[0].demand)
    weeks = days // WEEK
    if weeks < 2:
        return None
    ordered = [
        sum(sum(o.ordered[w * WEEK : (w + 1) * WEEK]) for o in outcomes) for w in range(weeks)
    ]
    demand = [sum(sum(o.demand[w * WEEK : (w + 1) * WEEK]) for o in outcomes) for w in range(weeks)]
    spread = statistics.pvariance(demand)
    return statistics.pvariance(ordered) / spread if spread else None


def _week(days: Sequence[int], week: int) -> int:
    return sum(days[week * WEEK : (week + 1) * WEEK])


def change(vmi: float | None, traditional: float | None) -> float | None:
    """VMI − traditional, in % of traditional (None when traditional is 0 or unknown)."""
    if vmi is None or not traditional:
        return None
    return round((vmi - traditional) / traditional * 100, 1)


def differences(vmi: Figures, traditional: Figures) -> dict[str, float | None]:
    """Every figure's VMI − traditional in %."""
    theirs = asdict(traditional)
    return {key: change(value, theirs[key]) for key, value in asdict(vmi).items()}


@dataclass(frozen=True)
class Claim:
    """One of the seed's claims, and whether this run bears it out."""

    key: str  # stock_value | stockout_rate | emergencies
    met: bool | None  # None: this run cannot show it (no emergency under either policy)
    vmi: float
    traditional: float


def claims(vmi: Figures, traditional: Figures) -> list[Claim]:
    """The seed's claims against this run: stock value down by 30 % or more, stock-out rate
    under 5 %, fewer emergency shipments (not shown when neither policy had one)."""
    cut = (
        1 - vmi.avg_stock_value / traditional.avg_stock_value if traditional.avg_stock_value else 0
    )
    return [
        Claim("stock_value", cut >= CLAIM_STOCK_CUT, vmi.avg_stock_value,
              traditional.avg_stock_value),
        Claim("stockout_rate", vmi.stockout_rate < CLAIM_STOCKOUT_RATE, vmi.stockout_rate,
              traditional.stockout_rate),
        Claim("emergencies",
              vmi.emergency_shipments < traditional.emergency_shipments
              if vmi.emergency_shipments or traditional.emergency_shipments else None,
              vmi.emergency_shipments, traditional.emergency_shipments),
    ]  # fmt: skip
