"""The day loop: one item under one policy, morning to evening, for every simulated day.

Each morning the goods due arrive, the policy orders (a regular order arrives after the lead
time, an emergency the next day), an urgent change announced that day is answered; then the
day's demand is served from the shelf. What the shelf cannot serve is short that day (the line
waits): a stock-out day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vmi_rules.proposal import Proposal
from vmi_rules.simulation.policies import DayState, Order, Policy, shipped
from vmi_rules.simulation.scenario import Scenario

EMERGENCY_LEAD_DAYS = 1  # an urgent shipment is rushed: it arrives the next morning
FREIGHT_RATE = 0.05  # regular freight as a share of the goods' value (an assumption)
EMERGENCY_SURCHARGE = 0.30  # the seed: emergency shipments cost 30 % more freight


@dataclass
class Outcome:
    """One item's days under one policy."""

    policy: str
    closing: list[int] = field(default_factory=list)  # on hand each evening
    demand: list[int] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    ordered: list[int] = field(default_factory=list)  # units ordered each day, emergencies too
    orders: int = 0  # regular orders placed
    emergencies: int = 0
    emergency_units: int = 0
    emergency_freight: float = 0.0
    emergency_freight_customer: float = 0.0

    @property
    def stockout_days(self) -> int:
        """Days on which demand went short."""
        return sum(1 for d, s in zip(self.demand, self.served, strict=True) if s < d)


def days_of(scenario: Scenario) -> list[datetime]:
    """Each simulated day's morning (local midnight)."""
    return [scenario.start + timedelta(days=t) for t in range(scenario.days)]


def replay(
    policy: Policy,
    scenario: Scenario,
    unit_price: float,
    lead_time_days: int,
    mornings: Sequence[datetime] | None = None,
) -> Outcome:
    """Run `policy` over the scenario's days; `mornings` may be shared between items."""
    mornings = mornings if mornings is not None else days_of(scenario)
    out = Outcome(policy.name)
    on_hand = policy.opening()
    withdrawals = list(scenario.history)
    arriving: dict[int, list[Proposal]] = {}
    on_way: list[Proposal] = []
    urgent_on = {change.announced: change for change in scenario.urgent}
    stocked_out = False
    number = 0

    def place(order: Order | None, day: int) -> None:
        nonlocal on_hand, number
        if order is None or order.qty <= 0:
            return
        number += 1
        lead = EMERGENCY_LEAD_DAYS if order.urgent else lead_time_days
        out.ordered[-1] += order.qty
        if order.urgent:
            freight = order.qty * unit_price * FREIGHT_RATE * (1 + EMERGENCY_SURCHARGE)
            out.emergencies += 1
            out.emergency_units += order.qty
            out.emergency_freight += freight
            out.emergency_freight_customer += freight * order.customer_freight_share
        else:
            out.orders += 1
        if lead <= 0:
            on_hand += order.qty
            return
        proposal = shipped(scenario.sku, number, order)
        on_way.append(proposal)
        arriving.setdefault(day + lead, []).append(proposal)

    for day, now in enumerate(mornings[: scenario.days]):
        for proposal in arriving.pop(day, ()):
            on_hand += proposal.qty
            on_way.remove(proposal)
        out.ordered.append(0)
        state = DayState(day, now, on_hand, tuple(on_way), stocked_out, withdrawals)
        place(policy.regular(state), day)
        change = urgent_on.get(day)
        if change is not None:
            state = DayState(day, now, on_hand, tuple(on_way), stocked_out, withdrawals)
            place(policy.urgent(state, change), day)
        wanted = scenario.demand[day]
        served = min(wanted, max(on_hand, 0))
        on_hand -= served
        withdrawals.append(served)
        out.demand.append(wanted)
        out.served.append(served)
        out.closing.append(on_hand)
        stocked_out = served < wanted or (on_hand == 0 and wanted > 0)
        if stocked_out:
            evening = DayState(day, now, on_hand, tuple(on_way), True, withdrawals)
            place(policy.short(evening), day)
    return out
