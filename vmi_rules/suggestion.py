"""Suggested min and max from the withdrawals (DESIGN §7, rule 4): a periodic review with
protection period P = R + L days (R the review cycle, L the lead time).

With the daily withdrawals of the last 90 days, mean d and standard deviation σ:

    min = d·P + z·σ·√P      (demand over P, plus safety stock for its spread)
    max = min + d·R         (one review cycle's demand on top)

z is the standard normal quantile of the agreed `service_level` (0.95 → z ≈ 1.645). Both are
rounded up to the pack size; max is raised so that max − min is at least the MOQ (an order
that brings the position from just under min to max is then never below the MOQ).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from vmi_rules.terms import Item

HISTORY_DAYS = 90  # how far back the withdrawals are read


@dataclass(frozen=True)
class Suggestion:
    """A suggested min and max and the figures behind them."""

    min: int
    max: int
    days: int  # days of history read
    mean_daily: float  # d
    std_daily: float  # σ
    protection_days: int  # P = R + L
    review_every_days: int  # R
    lead_time_days: int  # L
    service_level: float
    z: float
    safety_stock: float  # z·σ·√P
    current_min: int
    current_max: int


def service_z(service_level: float) -> float:
    """The standard normal quantile for a service level (0.95 → 1.645)."""
    return statistics.NormalDist().inv_cdf(service_level)


def suggest(
    daily_withdrawals: Sequence[int],
    item: Item,
    review_every_days: int,
    service_level: float,
) -> Suggestion | None:
    """The suggestion from the daily withdrawals (oldest first, 0 for a day with none); None
    with fewer than two days of history (no spread to read)."""
    history = list(daily_withdrawals)[-HISTORY_DAYS:]
    if len(history) < 2:
        return None
    d = statistics.fmean(history)
    sigma = statistics.stdev(history)
    protection = review_every_days + item.lead_time_days
    z = service_z(service_level)
    safety = z * sigma * math.sqrt(protection)
    low = _pack_up(d * protection + safety, item.pack_size)
    high = _pack_up(low + d * review_every_days, item.pack_size)
    if item.moq and high - low < item.moq:
        high = _pack_up(low + item.moq, item.pack_size)
    return Suggestion(
        min=low,
        max=high,
        days=len(history),
        mean_daily=round(d, 2),
        std_daily=round(sigma, 2),
        protection_days=protection,
        review_every_days=review_every_days,
        lead_time_days=item.lead_time_days,
        service_level=service_level,
        z=round(z, 3),
        safety_stock=round(safety, 1),
        current_min=item.min,
        current_max=item.max,
    )


def _pack_up(qty: float, pack_size: int) -> int:
    """Up to a whole number of packs (a hair over a whole pack from float error is not one
    more pack)."""
    pack = max(pack_size, 1)
    return int(math.ceil(round(qty, 6) / pack) * pack)
