"""The three ways of ordering compared, each deciding on one day's state:

- traditional: the customer orders on its own, blind to the supplier's view: on the first of
  each month a fixed quantity (the seed's 200, from history when there is history) when its
  stock is under its own safety stock (the seed's 300); an emergency shipment when it runs out
  or the buyer raises a month's requirement, with the seed's 30 % more freight, all the
  supplier's;
- vmi: the bot's own review (`vmi_rules.review.review_item`) every `review_every_days`, and at
  once after a stock-out, with the plans' look-ahead; urgent changes topped up by
  `vmi_rules.emergency.emergency_top_up`, the freight split as agreed;
- vmi_suggested: the same, with min and max from `vmi_rules.suggestion.suggest` on the last 90
  days of withdrawals, renewed each month as the monthly review suggests them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

from vmi_rules.emergency import emergency_top_up
from vmi_rules.periods import month_of
from vmi_rules.proposal import Proposal, ProposalState, position
from vmi_rules.review import DemandPlan, order_quantity, review_item
from vmi_rules.simulation.scenario import UrgentChange
from vmi_rules.suggestion import HISTORY_DAYS, suggest
from vmi_rules.terms import AgreementTerms, Item

PolicyName = Literal["traditional", "vmi", "vmi_suggested"]
POLICIES: tuple[PolicyName, ...] = ("traditional", "vmi", "vmi_suggested")
# the seed's plant: a fixed 200 a month and 300 in safety stock for a max of 100
SEED_MONTHLY_PER_MAX = 2
SEED_SAFETY_PER_MAX = 3
AVERAGE_MONTH_DAYS = 365 / 12


@dataclass(frozen=True)
class TraditionalTerms:
    """How the customer orders without VMI: a fixed monthly quantity and its own safety stock."""

    monthly_qty: int
    safety_stock: int


def traditional_terms(item: Item, history: Sequence[int] = ()) -> TraditionalTerms:
    """The seed's 200 a month and 300 safety stock, scaled to the item's max (2 × and 3 ×);
    with history, the monthly quantity is the average month of withdrawals, in whole packs."""
    safety = SEED_SAFETY_PER_MAX * item.max
    if any(history):
        monthly = order_quantity(item, math.ceil(sum(history) / len(history) * AVERAGE_MONTH_DAYS))
        return TraditionalTerms(monthly, safety)
    return TraditionalTerms(order_quantity(item, SEED_MONTHLY_PER_MAX * item.max), safety)


@dataclass(frozen=True)
class Order:
    """What a policy orders on a day: the quantity, and whether it is an emergency."""

    qty: int
    urgent: bool = False
    customer_freight_share: float = 0.0  # of an emergency's freight (the rest: the supplier)


@dataclass(frozen=True)
class DayState:
    """What a policy sees in the morning: stock, what is on its way, and the day."""

    day: int
    now: datetime
    on_hand: int
    open: tuple[Proposal, ...]
    stocked_out: bool  # yesterday ended short or empty: the bot reviews at once
    withdrawals: Sequence[int]  # daily withdrawals so far, history first


class Policy:
    """A way of ordering; subclasses decide the regular and the urgent orders."""

    name: PolicyName

    def opening(self) -> int:
        """Stock on hand on day 0."""
        raise NotImplementedError

    def regular(self, state: DayState) -> Order | None:
        """The regular order of the morning, if any."""
        raise NotImplementedError

    def urgent(self, state: DayState, change: UrgentChange) -> Order | None:
        """The emergency shipment an urgent change calls for, if any."""
        raise NotImplementedError

    def short(self, state: DayState) -> Order | None:
        """What running out calls for at the end of a day, if anything."""
        return None


class Traditional(Policy):
    """The customer orders a fixed monthly quantity under its own safety stock."""

    name: PolicyName = "traditional"

    def __init__(self, item: Item, terms: TraditionalTerms) -> None:
        self.item = item
        self.terms = terms

    def opening(self) -> int:
        """The plant starts at its safety stock."""
        return self.terms.safety_stock

    def regular(self, state: DayState) -> Order | None:
        """The first of the month (and day 0): the fixed quantity when under safety stock."""
        if state.day and state.now.day != 1:
            return None
        if position(state.on_hand, state.open) >= self.terms.safety_stock:
            return None
        return Order(self.terms.monthly_qty)

    def urgent(self, state: DayState, change: UrgentChange) -> Order | None:
        """Blind to the stock, the supplier ships the whole increase, urgently."""
        extra = order_quantity(self.item, change.qty - change.was)
        return Order(extra, urgent=True) if extra else None

    def short(self, state: DayState) -> Order | None:
        """Run out: a month's quantity rushed in, unless a rush is already on its way."""
        if any(p.urgent for p in state.open):
            return None
        return Order(self.terms.monthly_qty, urgent=True)


class Vmi(Policy):
    """The bot's review on its cycle, its emergency top-ups, the agreement's min and max."""

    name: PolicyName = "vmi"

    def __init__(
        self,
        item: Item,
        terms: AgreementTerms,
        plans: Sequence[DemandPlan],
        opening: int | None = None,
    ) -> None:
        self.item = item
        self.terms = terms
        self.plans: dict[str, DemandPlan] = {p.period.label: p for p in plans}
        self.start_level = opening

    def opening(self) -> int:
        """The stock given (a replay of real days), else full: at max."""
        return self.item.max if self.start_level is None else self.start_level

    def terms_on(self, state: DayState) -> Item:
        """The item's min and max that day."""
        return self.item

    def regular(self, state: DayState) -> Order | None:
        """The review on review days, and the morning after a stock-out."""
        review_day = state.day % self.terms.review_every_days == 0
        if not (review_day or state.stocked_out):
            return None
        decision = decide(self.terms_on(state), self.terms, state, self.plans_near(state.now))
        return Order(decision) if decision else None

    def plans_near(self, now: datetime) -> list[DemandPlan]:
        """The plans of the months the review looks at (from this one to the horizon's)."""
        window = self.terms.review_every_days + self.item.lead_time_days
        labels = months_between(now.date(), (now + timedelta(days=window)).date())
        return [self.plans[label] for label in labels if label in self.plans]

    def urgent(self, state: DayState, change: UrgentChange) -> Order | None:
        """The bot's emergency rule: new requirement − position, the freight split as agreed;
        the plan is the new requirement from now on."""
        self.plans[change.period.label] = DemandPlan(self.item.sku, change.period, change.qty)
        needed_at = state.now.replace(
            year=change.period.start.year, month=change.period.start.month, day=1
        )
        top_up = emergency_top_up(
            self.terms_on(state),
            self.terms,
            position(state.on_hand, state.open),
            change.qty,
            state.now,
            needed_at,
        )
        if top_up is None:
            return None
        return Order(top_up.qty, urgent=True,
                     customer_freight_share=float(top_up.customer_freight_share))  # fmt: skip


class VmiSuggested(Vmi):
    """VMI with the monthly review's suggested min and max, renewed each month."""

    name: PolicyName = "vmi_suggested"

    def __init__(
        self,
        item: Item,
        terms: AgreementTerms,
        plans: Sequence[DemandPlan],
        history: Sequence[int],
    ) -> None:
        super().__init__(item, terms, plans)
        self.current = suggested(item, terms, history)

    def opening(self) -> int:
        """Starts full at the suggested max."""
        return self.current.max

    def terms_on(self, state: DayState) -> Item:
        """On the first of a month, the suggestion from the last 90 days applies."""
        if state.day and state.now.day == 1:
            self.current = suggested(self.item, self.terms, state.withdrawals)
        return self.current


@lru_cache(maxsize=4096)
def months_between(first: date, last: date) -> tuple[str, ...]:
    """The labels of the months from `first`'s to `last`'s (the items share the days)."""
    labels = []
    month = month_of(first)
    while month.start <= last:
        labels.append(month.label)
        month = month_of(month.end)
    return tuple(labels)


def suggested(item: Item, terms: AgreementTerms, withdrawals: Sequence[int]) -> Item:
    """The item with the suggested min and max from the last 90 days (as it is without)."""
    found = suggest(withdrawals[-HISTORY_DAYS:], item, terms.review_every_days, terms.service_level)
    return item if found is None else replace(item, min=found.min, max=found.max)


def decide(item: Item, terms: AgreementTerms, state: DayState, plans: Sequence[DemandPlan]) -> int:
    """The quantity the bot's review proposes in this state (0: none). Its proposals are
    confirmed and shipped at once here, so a review only proposes or keeps."""
    decision = review_item(
        item, state.on_hand, state.open, plans, state.now, terms.review_every_days
    )
    return decision.qty if decision.action == "propose" else 0


def build(
    name: PolicyName,
    item: Item,
    terms: AgreementTerms,
    plans: Sequence[DemandPlan],
    history: Sequence[int],
    traditional: TraditionalTerms,
) -> Policy:
    """A policy by name, for one item."""
    if name == "traditional":
        return Traditional(item, traditional)
    if name == "vmi":
        return Vmi(item, terms, plans)
    return VmiSuggested(item, terms, plans, history)


def shipped(sku: str, number: int, order: Order) -> Proposal:
    """An order as the bot holds it once confirmed and shipped: open, outstanding in full."""
    return Proposal(f"P{number}", sku, order.qty, state=ProposalState.SHIPPED,
                    urgent=order.urgent, shipped_qty=order.qty)  # fmt: skip
