"""Emergency demand changes (紧急需求, rule 8): an urgent top-up with the agreed freight split."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from vmi_rules.terms import AgreementTerms, Item


@dataclass(frozen=True)
class EmergencyTopUp:
    """The extra quantity an emergency calls for, who pays its freight, and whether it was late."""

    qty: int
    urgent: bool
    customer_freight_share: Decimal
    supplier_freight_share: Decimal
    late: bool
    notice_hours: float


def emergency_top_up(
    item: Item,
    terms: AgreementTerms,
    position: int,
    new_requirement: int,
    announced_at: datetime,
    needed_at: datetime,
) -> EmergencyTopUp | None:
    """The urgent extra for a raised requirement: new requirement - position, when positive.

    Rounded up to whole packs. None when the position already covers it. A notice given less
    than `emergency_notice_hours` before the need is still accepted, and flagged as late.
    """
    extra = new_requirement - position
    if extra <= 0:
        return None
    pack = max(item.pack_size, 1)
    notice_hours = (needed_at - announced_at).total_seconds() / 3600
    customer_share = terms.emergency_freight_customer_share
    return EmergencyTopUp(
        qty=-(-extra // pack) * pack,
        urgent=True,
        customer_freight_share=customer_share,
        supplier_freight_share=Decimal(1) - customer_share,
        late=notice_hours < terms.emergency_notice_hours,
        notice_hours=notice_hours,
    )
