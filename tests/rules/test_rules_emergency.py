"""Emergency demand changes (rule 8)."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.emergency import emergency_top_up
from vmi_rules.terms import AgreementTerms, Item

SH = ZoneInfo("Asia/Shanghai")
ANNOUNCED = datetime(2026, 11, 21, 9, 0, tzinfo=SH)
BEARING = Item(sku="6205", name="6205 深沟球轴承", min=50, max=100)
TERMS = AgreementTerms(items=(BEARING,))


def top_up(position: int, requirement: int, hours: float = 72, item: Item = BEARING, terms=TERMS):  # type: ignore[no-untyped-def]
    needed = ANNOUNCED + timedelta(hours=hours)
    return emergency_top_up(item, terms, position, requirement, ANNOUNCED, needed)


@pytest.mark.parametrize("requirement", [100, 80])
def test_requirement_covered_by_the_position_needs_no_top_up(requirement: int) -> None:
    assert top_up(100, requirement) is None


def test_extra_is_rounded_up_to_whole_packs() -> None:
    result = top_up(100, 120, item=replace(BEARING, pack_size=12))
    assert result is not None
    assert result.qty == 24


def test_freight_split_follows_the_agreement() -> None:
    terms = replace(TERMS, emergency_freight_customer_share=Decimal("0.3"))
    result = top_up(100, 130, terms=terms)
    assert result is not None
    assert (result.customer_freight_share, result.supplier_freight_share) == (
        Decimal("0.3"),
        Decimal("0.7"),
    )


def test_notice_hours_are_measured_from_announcement_to_need() -> None:
    result = top_up(100, 120, hours=36.5)
    assert result is not None
    assert result.notice_hours == pytest.approx(36.5)
    assert not result.late


def test_notice_exactly_at_the_agreed_hours_is_on_time() -> None:
    result = top_up(100, 120, hours=24)
    assert result is not None
    assert not result.late


def test_short_notice_is_accepted_and_flagged_late() -> None:
    result = top_up(100, 120, hours=23.5)
    assert result is not None
    assert (result.qty, result.urgent, result.late) == (20, True, True)
