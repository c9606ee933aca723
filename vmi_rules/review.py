"""The periodic review (rules 3 and 4): a periodic (R, s, S) policy.

R = the agreement's `review_every_days`, s = the item's `min`, S = the item's `max`. On each
review an item whose inventory position is below min, or will be below min by the next review
plus lead time according to the demand plan, gets a proposal that brings the position to max.
An open proposal counts in the position, so a repeated review keeps or resizes it and never
duplicates it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from vmi_rules.periods import Period
from vmi_rules.proposal import Proposal, ProposalState, position
from vmi_rules.terms import Item

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DemandPlan:
    """The buyer's expected withdrawals of one item over a month or a week (需求计划)."""

    sku: str
    period: Period
    qty: int

    def __post_init__(self) -> None:
        if self.qty < 0:
            raise ValueError(f"a demand plan cannot be negative, got {self.qty} for {self.sku}")


def demand_between(plans: Iterable[DemandPlan], start: datetime, end: datetime) -> float:
    """The planned demand falling in [start, end), each plan spread evenly over its days.

    Partial days count in proportion, on the local clock of `start`. Where plans overlap (a
    week plan inside a month plan), the shorter period says the demand for its days, and of
    two plans for the same period the later one in `plans` wins, so nothing is counted twice.
    """
    return float(_demand(list(plans), start, end))


def days_until_below(
    level: int, floor: int, plans: Iterable[DemandPlan], start: datetime, end: datetime
) -> float | None:
    """In how many days `level` minus planned demand from `start` falls below `floor`.

    0 when it is already below; None when it does not within [start, end).
    """
    if level < floor:
        return 0.0
    room = Fraction(level - floor)
    elapsed = demand = Fraction(0)
    for days, per_day in _pieces(list(plans), start, end):
        if per_day and demand + per_day * days > room:
            # demand grows linearly inside a piece: solve for the point where it uses the room
            return float(elapsed + (room - demand) / per_day)
        elapsed += days
        demand += per_day * days
    return None


def order_quantity(item: Item, need: int) -> int:
    """The quantity to order for a need, in whole packs and at least the minimum order quantity.

    Rounded up by default; with `item.rounding == "down"` rounded down so that stock never
    exceeds max, and 0 when that is below the minimum order quantity. No need, no order.
    """
    if need <= 0:
        return 0
    pack = max(item.pack_size, 1)
    if item.rounding == "down":
        qty = need // pack * pack
        return qty if qty >= item.moq else 0
    packs = -(-need // pack)
    moq_packs = -(-item.moq // pack)
    return max(packs, moq_packs) * pack


ReviewAction = Literal["none", "propose", "update", "keep", "withdraw"]


@dataclass(frozen=True)
class Rejection:
    """The buyer rejected (or the supplier declined) the item's last regular proposal: which,
    why, when, and the position left once it was rejected. Until that position changes or a
    review cycle passes, the review does not propose the same again; after that, the new
    proposal says it was rejected before and why."""

    proposal_id: str
    reason: str
    at: datetime
    position: int
    declined: bool = False  # the supplier declined it: remembered the same way


@dataclass(frozen=True)
class ReviewDecision:
    """What one review decided for one item, with the figures it decided on."""

    sku: str
    action: ReviewAction
    qty: int
    on_hand: int
    position: int
    reason: str
    projected: int | None = None
    days_to_min: float | None = None
    proposal_id: str | None = None
    daily_demand: float | None = None  # planned use per day until the horizon, with plans
    rejected: Rejection | None = None  # the rejection held back on, or the one proposed after

    @property
    def days_of_cover(self) -> float | None:
        """How many days the position lasts at the planned rate (None without a plan)."""
        if not self.daily_demand:
            return None
        return self.position / self.daily_demand


@dataclass(frozen=True)
class Outlook:
    """How a stock level looks against min: now, and at the horizon by the plan."""

    reason: str  # "below_min" | "forecast" | "ok"
    projected: int | None = None
    days_to_min: float | None = None

    @property
    def fires(self) -> bool:
        """The level calls for a proposal."""
        return self.reason != "ok"


def outlook(
    item: Item, level: int, plans: Sequence[DemandPlan], now: datetime, horizon: datetime
) -> Outlook:
    """Judge a level: below min now, or below min at `horizon` after the planned demand."""
    projected = None
    if plans:
        # floor keeps "projected < min" equal to "level - demand < min" for a whole-number min
        projected = math.floor(level - _demand(plans, now, horizon))
    if level < item.min:
        return Outlook("below_min", projected)
    if projected is not None and projected < item.min:
        crossing = days_until_below(level, item.min, plans, now, horizon)
        return Outlook("forecast", projected, crossing)
    return Outlook("ok", projected)


def review_item(
    item: Item,
    on_hand: int,
    open_proposals: Sequence[Proposal],
    plans: Sequence[DemandPlan],
    now: datetime,
    review_every_days: int,
    rejected: Rejection | None = None,
) -> ReviewDecision:
    """Review one item: propose, resize (update) or keep its proposal, or do nothing.

    - position = on hand + the outstanding quantity of every open proposal, regular or urgent;
    - no open regular proposal: propose max - position (in packs, at least the moq) when the
      position is below min, or will be by now + R + lead time according to the plans;
    - a regular proposal still only proposed: judge the item without it, then keep it or
      update it to the quantity a fresh review would propose;
    - a regular proposal confirmed or shipped: keep it and wait; never a second regular one;
    - the last regular proposal `rejected`, and the position still the one it left, within
      `review_every_days` of the rejection: nothing ("rejected_recently"), since proposing the
      same again only asks the buyer the same question; a proposal after that carries it.

    `projected` and `days_to_min` describe the level the decision was judged on: the position,
    or, while the regular proposal is still only proposed, the position without it.
    """
    proposals = [p for p in open_proposals if p.sku == item.sku and p.is_open]
    item_plans = [p for p in plans if p.sku == item.sku]
    horizon = now + timedelta(days=review_every_days + item.lead_time_days)
    current = position(on_hand, proposals)
    regular = next((p for p in proposals if not p.urgent), None)
    # the planned rate of use over the same window the projection looks at
    window = review_every_days + item.lead_time_days
    rate = demand_between(item_plans, now, horizon) / window if item_plans and window else None

    def decide(
        action: ReviewAction,
        reason: str,
        seen: Outlook,
        qty: int = 0,
        kept: Proposal | None = None,
        after: Rejection | None = None,
    ) -> ReviewDecision:
        return ReviewDecision(
            sku=item.sku,
            action=action,
            qty=qty,
            on_hand=on_hand,
            position=current,
            reason=reason,
            projected=seen.projected,
            days_to_min=seen.days_to_min,
            proposal_id=kept.id if kept else None,
            daily_demand=rate,
            rejected=after,
        )

    if regular is None:
        seen = outlook(item, current, item_plans, now, horizon)
        if not seen.fires:
            return decide("none", "ok", seen)
        need = item.max - current
        qty = order_quantity(item, need)
        if qty == 0:
            return decide("none", _why_nothing(need), seen)
        if rejected is not None:
            unchanged = rejected.position == current
            if unchanged and now < rejected.at + timedelta(days=review_every_days):
                return decide("none", "rejected_recently", seen, after=rejected)
        return decide("propose", seen.reason, seen, qty, after=rejected)

    if regular.state is not ProposalState.PROPOSED:
        # the supplier is already acting on it: wait for it, never a second regular proposal
        seen = outlook(item, current, item_plans, now, horizon)
        reason = "below_min_in_transit" if current < item.min else "in_progress"
        return decide("keep", reason, seen, kept=regular)

    # still only proposed: judge the item as if it were not there, then keep, resize or withdraw it
    base = current - regular.outstanding
    seen = outlook(item, base, item_plans, now, horizon)
    if not seen.fires:
        # stock came back without it (a higher count, an unplanned receipt): confirming it now
        # would push stock over max, so the review takes it back before anyone confirms it
        return decide("withdraw", "no_longer_needed", seen, kept=regular)
    need = item.max - base
    qty = order_quantity(item, need)
    if qty == 0:
        return decide("withdraw", _why_nothing(need), seen, kept=regular)
    if qty == regular.qty:
        return decide("keep", seen.reason, seen, kept=regular)
    return decide("update", seen.reason, seen, qty, kept=regular)


def _why_nothing(need: int) -> str:
    """Why a triggered review orders nothing: already at max, or the room is under one order."""
    return "at_max" if need <= 0 else "room_below_moq"


def _demand(plans: Sequence[DemandPlan], start: datetime, end: datetime) -> Fraction:
    """Exact planned demand in [start, end), so thresholds are not blurred by float error."""
    return _local_demand(tuple(plans), *_wall_clock(start, end))


def _pieces(
    plans: Sequence[DemandPlan], start: datetime, end: datetime
) -> tuple[tuple[Fraction, Fraction], ...]:
    """Split [start, end) where plans begin or end: (length in days, demand per day) each."""
    return _local_pieces(tuple(plans), *_wall_clock(start, end))


def _wall_clock(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) on the wall clock of `start`'s zone: plans are whole local calendar days."""
    finish = end.astimezone(start.tzinfo) if start.tzinfo else end
    return start.replace(tzinfo=None), finish.replace(tzinfo=None)


@lru_cache(maxsize=256)
def _local_demand(plans: tuple[DemandPlan, ...], begin: datetime, finish: datetime) -> Fraction:
    """_demand between two wall-clock times, worked out once per window (see _local_pieces)."""
    return sum((per_day * days for days, per_day in _local_pieces(plans, begin, finish)),
               Fraction(0))  # fmt: skip


@lru_cache(maxsize=256)
def _local_pieces(
    plans: tuple[DemandPlan, ...], begin: datetime, finish: datetime
) -> tuple[tuple[Fraction, Fraction], ...]:
    """_pieces between two wall-clock times; a review asks for the same window two or three
    times (a simulation, thousands of times), so it is worked out once."""
    if finish <= begin:
        return ()
    cuts = {begin, finish}
    for plan in plans:
        for day in (plan.period.start, plan.period.end):
            cut = datetime.combine(day, time())
            if begin < cut < finish:
                cuts.add(cut)
    pieces = []
    for a, b in pairwise(sorted(cuts)):
        covering = _plan_at(plans, a)
        per_day = Fraction(covering.qty, covering.period.days) if covering else Fraction(0)
        pieces.append((_days(b - a), per_day))
    return tuple(pieces)


def _plan_at(plans: Sequence[DemandPlan], moment: datetime) -> DemandPlan | None:
    """The plan that speaks for this moment: the shortest period covering it, the latest given."""
    chosen = None
    for plan in plans:
        covers = plan.period.start <= moment.date() < plan.period.end
        if covers and (chosen is None or plan.period.days <= chosen.period.days):
            chosen = plan
    return chosen


def _days(span: timedelta) -> Fraction:
    """A span in days, exactly."""
    return Fraction(span // timedelta(microseconds=1), _DAY // timedelta(microseconds=1))
