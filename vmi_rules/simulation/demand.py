"""Seeded daily demand for the simulation, by the Syntetos–Boylan classes.

A series is classed by how often demand comes (ADI, the average interval between days with
demand) and how much its sizes vary (CV², the squared coefficient of variation of the non-zero
sizes), cut at ADI 1.32 and CV² 0.49:

    smooth: ADI < 1.32, CV² < 0.49        erratic: ADI < 1.32, CV² ≥ 0.49
    intermittent: ADI ≥ 1.32, CV² < 0.49  lumpy: ADI ≥ 1.32, CV² ≥ 0.49

`seasonal` is smooth demand swinging ±50 % over a year. Spikes are the seed's urgent change
(next month 90 → 120): a month's demand raised by a third, announced before the month starts.
`bootstrap` stretches an agreement's own withdrawals to the length asked, a week at a time.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

DemandKind = Literal["smooth", "erratic", "intermittent", "lumpy", "seasonal"]
KINDS: tuple[DemandKind, ...] = ("smooth", "erratic", "intermittent", "lumpy", "seasonal")
ADI_CUT = 1.32  # Syntetos–Boylan: demand comes less often than this → intermittent or lumpy
CV2_CUT = 0.49  # Syntetos–Boylan: sizes vary more than this → erratic or lumpy
SPIKE = (90, 120)  # the seed's urgent change: next month's requirement 90 → 120
SEASON_DAYS = 365
BLOCK_DAYS = 7  # bootstrap by whole weeks, so a week's rhythm is kept


@dataclass(frozen=True)
class Profile:
    """How a kind of demand is drawn: the days between demands and the spread of sizes."""

    interval: float  # ADI: 1 = demand every day
    cv2: float  # CV² of the sizes on days with demand
    amplitude: float = 0.0  # seasonal swing, a share of the mean


PROFILES: dict[DemandKind, Profile] = {
    "smooth": Profile(interval=1.0, cv2=0.1),
    "erratic": Profile(interval=1.0, cv2=1.0),
    "intermittent": Profile(interval=3.0, cv2=0.2),
    "lumpy": Profile(interval=3.0, cv2=1.2),
    "seasonal": Profile(interval=1.0, cv2=0.1, amplitude=0.5),
}


def generate(kind: DemandKind, mean_daily: float, days: int, rng: random.Random) -> list[int]:
    """`days` of whole daily demand with mean about `mean_daily`, drawn from `rng`.

    A day has demand with chance 1/ADI; its size is gamma-distributed with the profile's CV²
    (at least 1, so a demand day is never empty).
    """
    profile = PROFILES[kind]
    chance = 1.0 / profile.interval
    shape = 1.0 / profile.cv2
    out = []
    for day in range(days):
        level = mean_daily * profile.interval
        if profile.amplitude:
            level *= 1.0 + profile.amplitude * math.sin(2 * math.pi * day / SEASON_DAYS)
        if level > 0 and rng.random() < chance:
            # gamma with shape 1/CV² and mean `level` has exactly that CV²
            out.append(max(1, round(rng.gammavariate(shape, level / shape))))
        else:
            out.append(0)
    return out


def classify(series: Sequence[int]) -> DemandKind | None:
    """The Syntetos–Boylan class of a series (smooth, erratic, intermittent or lumpy); None
    with fewer than two days of demand."""
    sizes = [q for q in series if q > 0]
    if len(sizes) < 2:
        return None
    adi = len(series) / len(sizes)
    mean = statistics.fmean(sizes)
    cv2 = statistics.pvariance(sizes) / (mean * mean)
    if adi < ADI_CUT:
        return "smooth" if cv2 < CV2_CUT else "erratic"
    return "intermittent" if cv2 < CV2_CUT else "lumpy"


def bootstrap(history: Sequence[int], days: int, rng: random.Random) -> list[int]:
    """`days` of demand resampled from `history` (daily withdrawals, oldest first) in blocks of
    a week; the history as it is when it is long enough and the rng draws the same blocks."""
    if not history:
        return [0] * days
    block = min(BLOCK_DAYS, len(history))
    starts = range(len(history) - block + 1)
    out: list[int] = []
    while len(out) < days:
        first = rng.choice(starts)
        out.extend(history[first : first + block])
    return out[:days]


def with_spike(series: Sequence[int], first: int, last: int, new: int, old: int) -> list[int]:
    """The series with the days [first, last) raised in the ratio new/old (90 → 120)."""
    return [round(q * new / old) if first <= day < last else q for day, q in enumerate(series)]
