"""The monthly review (复盘, rule 11): how the month went, in figures both sides can discuss.

Seed case: "本月有 5 件库存超期，是因为需求比预测少 5 件" — 5 units aged because withdrawals
came in 5 under the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from vmi_rules.aging import aged_qty
from vmi_rules.daily import DayStock, daily_stock, step_emptied
from vmi_rules.forecast_error import ForecastError, forecast_error, plan_by_day
from vmi_rules.ledger import Movement, apply
from vmi_rules.terms import Item


@dataclass(frozen=True)
class MonthlyReview:
    """One item's month: withdrawals against the plan, stock-outs, aged units, stock and turns."""

    withdrawn: int
    planned: int | None
    aged: int
    stock_outs: int
    emergencies: int
    average_on_hand: float
    turns: float | None

    @property
    def forecast_error(self) -> int | None:
        """Withdrawn minus planned: negative when demand came in under the plan (bias)."""
        return None if self.planned is None else self.withdrawn - self.planned


def review_month(
    movements: Iterable[Movement],
    start: datetime,
    end: datetime,
    planned: int | None,
    overstock_days: int,
    emergencies: int = 0,
) -> MonthlyReview:
    """Review [start, end) from the ledger (in ledger order), the plan, and the urgent changes."""
    history = list(movements)
    level, withdrawn, stock_outs = 0, 0, 0
    returned = False  # the shelf is empty because overstock was sent back: no stock-out
    weighted, since = 0.0, start
    for movement in history:
        at = movement.at
        if at >= end:
            break
        after, emptied_by_return = step_emptied(level, returned, movement)
        if at >= start:
            weighted += level * (at - since).total_seconds()
            since = at
            if movement.kind == "withdrawal":
                withdrawn += movement.qty
            was_out = level <= 0 and not returned
            if after <= 0 and not emptied_by_return and not was_out:
                stock_outs += 1
            elif movement.kind == "count" and after == 0 and level < 0:
                stock_outs += 1  # a count confirms the gap the withdrawals left
        level, returned = after, emptied_by_return
    weighted += level * (end - since).total_seconds()
    average = weighted / (end - start).total_seconds()
    in_period = [m for m in history if m.at < end]
    return MonthlyReview(
        withdrawn=withdrawn,
        planned=planned,
        aged=aged_qty(in_period, end, overstock_days),
        stock_outs=stock_outs,
        emergencies=emergencies,
        average_on_hand=round(average, 1),
        turns=round(withdrawn / average, 2) if average > 0 else None,
    )


@dataclass(frozen=True)
class Delivery:
    """A proposal received in the period: when it was made and when its first goods came."""

    created_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class ItemReview:
    """One item's month in full (rule 11): the plan's misses, stock-outs, fill rate, whether
    the goods came in time, emergencies, aged units, average stock, turns and cover.

    - stock-out days: days on which on hand was 0 at any time;
    - fill rate: withdrawn ÷ demanded, demand being the withdrawals plus what could not be
      served: as recorded, else estimated on each stock-out day as that day's planned
      withdrawal (or the average of the days with stock) less what was withdrawn that day;
    - on time: a proposal received before on hand fell below min after it was made; late:
      on hand was below min at some time between the proposal and its receipt;
    - days of cover: on hand at the end ÷ the period's average daily withdrawal.
    """

    sku: str
    month: MonthlyReview
    forecast: ForecastError
    days: tuple[DayStock, ...]
    stockout_days: int
    unserved: int
    on_time: int
    late: int
    customer_freight_share: Decimal
    average_value: Decimal
    closing: int
    days_of_cover: float | None

    @property
    def fill_rate(self) -> float | None:
        """Withdrawn ÷ demanded (None when nothing was asked for)."""
        demanded = self.month.withdrawn + self.unserved
        return round(self.month.withdrawn / demanded, 4) if demanded else None

    @property
    def under_plan(self) -> int:
        """How many units demand came in under the plan (0 when not under, or no plan)."""
        planned = self.forecast.planned
        return max(0, round(planned - self.month.withdrawn)) if planned is not None else 0


def unserved_on_stockout_days(days: Sequence[DayStock], planned: Sequence[float | None]) -> int:
    """The demand a stock-out left unserved, when nobody recorded it: on each day the shelf
    ran out, what the day was expected to take (its plan, else the average withdrawal of the
    days with stock) less what it did take."""
    stocked = [d.withdrawn for d in days if d.known and not d.stocked_out]
    usual = sum(stocked) / len(stocked) if stocked else 0.0
    lost = 0.0
    for day, plan in zip(days, planned, strict=True):
        if day.stocked_out:
            lost += max(0.0, (plan if plan is not None else usual) - day.withdrawn)
    return round(lost)


def review_item(
    movements: Sequence[Movement],
    start: datetime,
    end: datetime,
    item: Item,
    *,
    month_plan: int | None,
    week_plans: Mapping[str, int],
    overstock_days: int,
    deliveries: Sequence[Delivery] = (),
    emergencies: int = 0,
    customer_freight_share: Decimal = Decimal("0.5"),
    unserved: int = 0,
) -> ItemReview:
    """The full review of `item` over [start, end) (`start` a local midnight) from its ledger
    (in ledger order), the month's and the weeks' plans, and its proposals received."""
    days = daily_stock(movements, start, end)
    dates = [d.day for d in days]
    planned = plan_by_day(dates, month_plan, week_plans)
    forecast = forecast_error(dates, [d.withdrawn for d in days], planned)
    month = review_month(
        movements,
        start,
        end,
        round(forecast.planned) if forecast.planned is not None else None,
        overstock_days,
        emergencies,
    )
    closing = days[-1].closing if days else 0
    per_day = month.withdrawn / len(days) if days else 0
    late = sum(1 for d in deliveries if _below_min_between(movements, item.min, d))
    return ItemReview(
        sku=item.sku,
        month=month,
        forecast=forecast,
        days=tuple(days),
        stockout_days=sum(1 for d in days if d.stocked_out),
        unserved=unserved or unserved_on_stockout_days(days, planned),
        on_time=len(deliveries) - late,
        late=late,
        customer_freight_share=customer_freight_share,
        average_value=(Decimal(str(month.average_on_hand)) * item.unit_price).quantize(
            Decimal("0.01")
        ),
        closing=closing,
        days_of_cover=round(closing / per_day, 1) if per_day > 0 else None,
    )


def _below_min_between(movements: Sequence[Movement], line: int, delivery: Delivery) -> bool:
    """True when on hand was under `line` at some time from the proposal to its receipt."""
    level, under = 0, False
    for movement in sorted(movements, key=lambda m: m.at):
        if movement.at >= delivery.received_at:
            break
        level = apply(level, movement)
        # the level standing when the proposal was made counts, and every one after it
        under = level < line if movement.at < delivery.created_at else under or level < line
    return under
