"""Dates and periods as people name them: 2026-11-25, 11月25日, 25号, 下周五, 明天; 下月,
2026-12, 12月, 2026-W49, 第49周. All are read from `today`, passed in: the parser has no clock."""

from __future__ import annotations

import re
from datetime import date, timedelta

from handlers.parsing.numbers import chinese_int
from handlers.parsing.vocabulary import RELATIVE_DAYS, RELATIVE_PERIODS, alternation
from vmi_rules.periods import Period, month_of, next_week, parse_period, week_of

_CN_SMALL_MONTH = "一二三四五六七八九十"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# A day named from today is matched wherever it stands, longest first: 大后天 before 后天.
_RELATIVE_DAY_RE = "|".join(re.escape(w) for w in sorted(RELATIVE_DAYS, key=len, reverse=True))
DATE_RE = re.compile(
    r"(?P<ymd>(?<![0-9a-z])(?P<y>[0-9]{4})\s?[-/.年]\s?(?P<m>[0-9]{1,2})\s?[-/.月]\s?(?P<d>[0-9]{1,2})"
    r"(?:\s?[日号])?(?![0-9]))"
    r"|(?P<md>(?<![0-9a-z])(?P<m2>[0-9]{1,2})(?:\s?月(?P<d2>[0-9]{1,2})(?:[日号]|(?![0-9件个只套]))"
    r"|[-/](?P<d3>[0-9]{1,2})(?![0-9/.-])))"
    r"|(?P<dom>(?<![0-9a-z月])(?P<d4>[0-9]{1,2})\s?[日号](?!\s?[0-9]))"
    r"|(?P<wd>(?P<which>下|本|这)?(?:个)?(?:周|星期|礼拜)(?P<day>[一二三四五六日天]))"
    rf"|(?P<rel>{_RELATIVE_DAY_RE})"
)
PERIOD_RE = re.compile(
    rf"(?P<rel>{alternation(RELATIVE_PERIODS)})"
    r"|(?P<yw>(?<![0-9])(?P<y>[0-9]{4})\s?-?\s?w\s?(?P<w>[0-9]{1,2})(?![0-9]))"
    r"|(?P<w_only>(?<![0-9a-z])(?:w|wk|week)\s?(?P<w2>[0-9]{1,2})(?![0-9a-z])"
    r"|第\s?(?P<w3>[0-9]{1,2})\s?周)"
    r"|(?P<ym>(?<![0-9])(?P<y2>[0-9]{4})\s?(?:[-/.]|年)\s?(?P<m>[0-9]{1,2})(?:\s?月份?)?(?![0-9]))"
    rf"|(?P<m_only>(?<![0-9])(?P<m2>[0-9]{{1,2}}|[{_CN_SMALL_MONTH}]{{1,3}})\s?月份?)"
)


def closest_date(today: date, month: int, day: int) -> date | None:
    """M-D without a year: the date nearest today (so 01-03 in late December is next year)."""
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    return min(candidates, key=lambda d: abs((d - today).days), default=None)


def read_date(match: re.Match[str], today: date) -> date | None:
    """The date a DATE_RE match names, or None when there is no such day."""
    try:
        if match["ymd"]:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        if match["md"]:
            return closest_date(today, int(match["m2"]), int(match["d2"] or match["d3"]))
        if match["dom"]:
            day_of_month = int(match["d4"])
            months = [month_of(today).start - timedelta(days=1), today, month_of(today).end]
            return min(
                (d for m in months if (d := _day_in_month(m, day_of_month))),
                key=lambda d: abs((d - today).days),
                default=None,
            )
        if match["wd"]:
            monday = week_of(today).start
            if match["which"] == "下":
                monday = next_week(today).start
            day = monday + timedelta(days=_WEEKDAYS[match["day"]])
            if not match["which"] and day < today:  # "周五" said on a Sunday: the coming one
                day += timedelta(days=7)
            return day
        return today + timedelta(days=RELATIVE_DAYS[match["rel"]])
    except (ValueError, OverflowError):
        return None


def _day_in_month(day_in: date, day: int) -> date | None:
    try:
        return day_in.replace(day=day)
    except ValueError:
        return None


def read_period(match: re.Match[str], today: date) -> Period | None:
    """The period a PERIOD_RE match names, or None when it does not exist or is over."""
    try:
        if match["rel"]:
            return RELATIVE_PERIODS[match["rel"]](today)
        iso_year, iso_week, _ = today.isocalendar()
        if match["yw"]:
            period = parse_period(f"{int(match['y']):04d}-W{int(match['w']):02d}")
        elif match["w_only"]:
            week = int(match["w2"] or match["w3"])
            year = iso_year if week >= iso_week else iso_year + 1
            period = parse_period(f"{year:04d}-W{week:02d}")
        elif match["ym"]:
            period = parse_period(f"{int(match['y2']):04d}-{int(match['m']):02d}")
        else:
            month = _month_number(match["m2"])
            year = today.year if month >= today.month else today.year + 1
            period = parse_period(f"{year:04d}-{month:02d}")
    except (ValueError, OverflowError, KeyError):
        return None
    return period if period.end > today else None


def _month_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    value = chinese_int(text)
    if value is None:
        raise ValueError(text)
    return value
