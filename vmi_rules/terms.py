"""The agreed terms of a VMI agreement (VMI 协议) and of each item (物料) in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
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
    name_en: str = ""  # the name in English replies; none: the name as it is

    def name_in(self, locale: str) -> str:
        """The item's name as a reply in `locale` shows it."""
        return self.name_en if locale == "en" and self.name_en else self.name


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ReminderTimes:
    """When each reminder (DESIGN §4) is due, on the agreement's clock, and whether it is on."""

    count: bool = True  # no count by `count_at`: remind the keeper
    count_at: time = time(10, 0)
    weekly_plan: bool = True  # ask the buyer for next week's plan on `weekly_plan_weekday`
    weekly_plan_weekday: str = "fri"
    weekly_plan_at: time = time(16, 0)
    monthly_plan: bool = True  # next month's plan, asked on `monthly_plan_day`
    monthly_plan_day: int = 1
    monthly_plan_at: time = time(9, 0)
    plan_overdue: bool = True  # after `plan_due_day`, once
    unconfirmed: bool = True  # a proposal nobody confirmed for `unconfirmed_hours`
    unconfirmed_hours: int = 24
    not_arrived: bool = True  # shipped, not in after the lead time and a day

    @property
    def weekly_plan_day_index(self) -> int:
        """The weekday of the weekly plan reminder, Monday 0."""
        return WEEKDAYS.index(self.weekly_plan_weekday)


@dataclass(frozen=True)
class AgreementTerms:
    """What both sides signed: review cycle, plan and settlement days, overstock, emergencies."""

    review_every_days: int = 3
    plan_due_day: int = 5
    settlement_day: int = 25
    overstock_days: int = 30
    emergency_notice_hours: int = 24
    emergency_freight_customer_share: Decimal = Decimal("0.5")
    reminders: ReminderTimes = field(default_factory=ReminderTimes)
    service_level: float = 0.95  # the share of review cycles with no stock-out min aims at
    items: tuple[Item, ...] = field(default=())

    def item(self, sku: str) -> Item | None:
        """The item with this sku, or None."""
        return next((i for i in self.items if i.sku == sku), None)
