"""The monthly review (复盘, rule 11): how the month went, in figures both sides can discuss.

Seed case: "本月有 5 件库存超期，是因为需求比预测少 5 件" — 5 units aged because withdrawals
came in 5 under the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from vmi_rules.aging import aged_qty
from vmi_rules.ledger import Movement, apply


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
    weighted, since = 0.0, start
    for movement in history:
        at = movement.at
        if at >= end:
            break
        after = apply(level, movement)
        if at >= start:
            weighted += level * (at - since).total_seconds()
            since = at
            if movement.kind == "withdrawal":
                withdrawn += movement.qty
            if after <= 0 < level or (movement.kind == "count" and after == 0 and level != 0):
                stock_outs += 1
        level = after
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
