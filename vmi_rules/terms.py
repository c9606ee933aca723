"""The agreed terms of a VMI agreement (VMI 协议) and of each item (物料) in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Rounding = Literal["up", "down"]
Role = Literal["warehouse", "buyer", "supplier", "admin"]
ROLES: tuple[Role, ...] = ("warehouse", "buyer", "supplier", "admin")


@dataclass(frozen=True)
class Item:
    """One part kept in the VMI area, with its reorder point `min` and order-up-to level `max`."""

    sku: str
    name: str
    min: int
    max: int
    unit: str = "件"
    aliases: tuple[str, ...] = ()
    pack_size: int = 1
    moq: int = 0
    rounding: Rounding = "up"
    unit_price: Decimal = Decimal("0")
    lead_time_days: int = 0


@dataclass(frozen=True)
class AgreementTerms:
    """What both sides signed: review cycle, plan and settlement days, overstock, emergencies."""

    review_every_days: int = 3
    plan_due_day: int = 5
    settlement_day: int = 25
    overstock_days: int = 30
    emergency_notice_hours: int = 24
    emergency_freight_customer_share: Decimal = Decimal("0.5")
    service_level: float = 0.95  # the share of review cycles with no stock-out min aims at
    items: tuple[Item, ...] = field(default=())

    def item(self, sku: str) -> Item | None:
        """The item with this sku, or None."""
        return next((i for i in self.items if i.sku == sku), None)
