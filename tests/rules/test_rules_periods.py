"""Plan periods: months "YYYY-MM" and ISO weeks "YYYY-Www"."""

from datetime import date

import pytest

from vmi_rules.periods import Period, month_of, next_month, next_week, parse_period, week_of


def test_parse_month() -> None:
    period = parse_period("2026-12")
    assert period == Period("2026-12", date(2026, 12, 1), date(2027, 1, 1))
    assert period.days == 31


def test_parse_february_of_a_leap_year_has_29_days() -> None:
    assert parse_period("2028-02").days == 29


def test_parse_iso_week() -> None:
    period = parse_period("2026-W49")
    assert period == Period("2026-W49", date(2026, 11, 30), date(2026, 12, 7))
    assert period.days == 7


def test_parse_lowercase_week_and_spaces_give_the_canonical_label() -> None:
    assert parse_period("  2026-w05 ").label == "2026-W05"


def test_week_53_exists_in_2026() -> None:
    assert parse_period("2026-W53").start == date(2026, 12, 28)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "2026-13",
        "2026-00",
        "2026-1",
        "2026/12",
        "12-2026",
        "2026-W00",
        "2026-W54",
        "2025-W53",
        "2026-W4",
        "next month",
        "2026-12-01",
        "0000-01",
    ],
)
def test_invalid_periods_are_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"2026-12|01\.\.12|ISO week|out of range"):
        parse_period(text)


def test_unrecognised_text_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"YYYY-MM .* YYYY-Www"):
        parse_period("下月")


def test_month_of_any_day() -> None:
    assert month_of(date(2026, 11, 21)) == parse_period("2026-11")


def test_week_of_new_years_day_belongs_to_the_previous_iso_year() -> None:
    assert week_of(date(2027, 1, 1)).label == "2026-W53"
    assert week_of(date(2026, 12, 31)).label == "2026-W53"


def test_week_of_starts_on_monday() -> None:
    week = week_of(date(2026, 12, 6))  # a Sunday
    assert week.start == date(2026, 11, 30)
    assert week.start.isoweekday() == 1


def test_next_month_in_december_is_january_of_next_year() -> None:
    assert next_month(date(2026, 12, 15)).label == "2027-01"


def test_next_month_from_the_seed_date() -> None:
    assert next_month(date(2026, 11, 21)) == parse_period("2026-12")


def test_next_week_crosses_the_year() -> None:
    assert next_week(date(2026, 12, 30)).label == "2027-W01"


def test_period_contains_its_start_but_not_its_end() -> None:
    period = parse_period("2026-12")
    assert date(2026, 12, 1) in period
    assert date(2026, 12, 31) in period
    assert date(2027, 1, 1) not in period
