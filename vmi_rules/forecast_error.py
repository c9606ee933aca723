"""Withdrawals against the plan (rule 11): how far off the plan was, and to which side.

Definitions, over the weeks of the reviewed period (ISO weeks, cut at the period's ends), each
week's actual A (withdrawn) against its planned F:

- WMAPE (weighted mean absolute percentage error) = Σ|A − F| / ΣA: how much of what was
  withdrawn the plan missed, whichever side; 0 is a perfect plan.
- bias = Σ(A − F) / ΣA: the same misses with their sign; negative when demand came in under
  the plan (the plan was too high), positive when over. |bias| ≤ WMAPE.

Both are None without a plan, or when nothing was withdrawn (no base to weigh by).

The plan per day: the month's plan (`YYYY-MM`) spread evenly over the period's days; a weekly
plan (`YYYY-Www`), where there is one, gives its days its own qty / 7 instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from vmi_rules.periods import week_of


@dataclass(frozen=True)
class ForecastError:
    """The plan's misses over the period, week by week."""

    planned: float | None  # the plan over the period (None: no plan)
    withdrawn: int  # withdrawn on the days that had a plan
    wmape: float | None
    bias: float | None
    weeks: tuple[tuple[str, float, int], ...] = ()  # (ISO week, planned, withdrawn)


def plan_by_day(
    days: Sequence[date], month_plan: int | None, week_plans: Mapping[str, int]
) -> list[float | None]:
    """Each day's planned withdrawal: the week's plan / 7 where the week has one, else the
    month's plan spread evenly over `days`, else None."""
    spread = None if month_plan is None or not days else month_plan / len(days)
    out: list[float | None] = []
    for day in days:
        week = week_plans.get(week_of(day).label)
        out.append(week / 7 if week is not None else spread)
    return out


def forecast_error(
    days: Sequence[date], withdrawn: Sequence[int], planned: Sequence[float | None]
) -> ForecastError:
    """WMAPE and bias of the daily `planned` against the daily `withdrawn`, summed by week."""
    weeks: dict[str, list[float]] = {}
    for day, actual, plan in zip(days, withdrawn, planned, strict=True):
        if plan is None:
            continue
        week = weeks.setdefault(week_of(day).label, [0.0, 0.0])
        week[0] += plan
        week[1] += actual
    if not weeks:
        return ForecastError(None, 0, None, None)
    total_plan = sum(w[0] for w in weeks.values())
    total_actual = sum(w[1] for w in weeks.values())
    absolute = sum(abs(w[1] - w[0]) for w in weeks.values())
    signed = total_actual - total_plan
    return ForecastError(
        planned=round(total_plan, 2),
        withdrawn=round(total_actual),
        wmape=round(absolute / total_actual, 4) if total_actual else None,
        bias=round(signed / total_actual, 4) if total_actual else None,
        weeks=tuple((label, round(w[0], 2), round(w[1])) for label, w in weeks.items()),
    )
