"""The stock ledger: on hand derived from rows, withdrawals inferred from counts (rules 1, 7)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.ledger import (
    CountOutcome,
    Movement,
    book_before_count,
    infer_from_count,
    on_hand,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=SH)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def test_empty_ledger_has_nothing_on_hand() -> None:
    assert on_hand([]) == 0


def test_without_a_count_the_ledger_starts_from_zero() -> None:
    rows = [Movement("receipt", 30, at(0)), Movement("withdrawal", 12, at(1))]
    assert on_hand(rows) == 18


def test_latest_count_replaces_everything_before_it() -> None:
    rows = [
        Movement("count", 45, at(0)),
        Movement("receipt", 55, at(1)),
        Movement("withdrawal", 10, at(2)),
        Movement("count", 70, at(3)),
        Movement("withdrawal", 4, at(4)),
    ]
    assert on_hand(rows) == 66


def test_adjustments_are_signed_corrections() -> None:
    rows = [
        Movement("count", 40, at(0)),
        Movement("adjustment", -3, at(1)),
        Movement("adjustment", 5, at(2)),
    ]
    assert on_hand(rows) == 42


def test_ledger_order_not_timestamps_decides_which_count_is_latest() -> None:
    # a count typed in late with an earlier time is still the latest row recorded
    rows = [Movement("count", 80, at(5)), Movement("count", 60, at(1))]
    assert on_hand(rows) == 60


def test_withdrawal_inferred_from_two_counts_and_a_receipt() -> None:
    rows = [Movement("count", 45, at(0)), Movement("receipt", 55, at(1))]
    outcome = infer_from_count(book_before_count(rows), 90)
    assert outcome == CountOutcome(withdrawn=10, gain=0)
    assert not outcome.anomaly


def test_count_that_rose_with_no_receipt_is_an_anomaly_not_a_negative_withdrawal() -> None:
    outcome = infer_from_count(45, 52)
    assert outcome.withdrawn == 0
    assert outcome.gain == 7
    assert outcome.anomaly


def test_first_count_infers_nothing() -> None:
    rows = [Movement("receipt", 20, at(0))]
    assert book_before_count(rows) is None
    assert infer_from_count(book_before_count(rows), 45) == CountOutcome(withdrawn=0, gain=0)


def test_count_equal_to_book_infers_nothing() -> None:
    outcome = infer_from_count(100, 100)
    assert (outcome.withdrawn, outcome.gain, outcome.anomaly) == (0, 0, False)


@pytest.mark.parametrize("kind", ["count", "receipt", "withdrawal"])
def test_only_adjustments_may_be_negative(kind: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        Movement(kind, -1, T0)  # type: ignore[arg-type]


def test_negative_adjustment_is_accepted() -> None:
    assert Movement("adjustment", -5, T0).qty == -5


def test_unknown_movement_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown movement kind"):
        Movement("sale", 3, T0)  # type: ignore[arg-type]


def test_naive_movement_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Movement("receipt", 3, datetime(2026, 11, 21, 10, 0))


def test_a_count_that_looks_mistyped_is_named_so() -> None:
    from vmi_rules.ledger import looks_mistyped

    # the seed's 6205, max 100
    assert looks_mistyped(90, 9, 100) == "drop"  # 81 of 90 would be billed
    assert looks_mistyped(90, 45, 100) is None  # exactly half: an ordinary day
    assert looks_mistyped(90, 44, 100) == "drop"
    assert looks_mistyped(45, 1000, 100) == "far_above_max"
    assert looks_mistyped(None, 1000, 100) == "far_above_max"  # a first count too
    assert looks_mistyped(90, 0, 100) is None  # a stock-out is heard at once
    assert looks_mistyped(None, 150, 100) is None
