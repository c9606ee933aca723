"""The agreement file's shape: one strict pydantic model per TOML table.

A model says what each value may be: its type, its range, its choices. How values relate
(min against max, members against parties, skus across items) is checked after validation,
in `bot.config.load`. Strict, so TOML's `true` is not 1 and "50" is not 50; a key the model
does not know is an error, not silently ignored.
"""

from __future__ import annotations

import json
import math
import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from bot.config.model import DEFAULT_REVIEW_TIME, BotSettings
from vmi_rules.terms import AgreementTerms, Item, ReminderTimes, Role, Rounding

Locale = Literal["zh", "en"]
PartyRole = Literal["customer", "supplier"]

# The defaults live with the dataclasses the bot reads; the models only repeat them.
_BOT = BotSettings()
_TERMS = AgreementTerms()
_ITEM = Item(sku="", name="", min=0, max=0)
_REMIND = ReminderTimes()
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HH_MM = re.compile(r"(\d{1,2}):(\d{2})")
_TOML_TYPES = ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"))


def show(value: object) -> str:
    """A value as the user would write it in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        return "a table" if isinstance(value, dict) else "an array"
    return str(value)


def got(value: object) -> str:
    """A wrong value, for "expected ..., got ...": its TOML type and, for a plain value, itself."""
    if isinstance(value, dict | list):
        return show(value)
    toml = next((name for python, name in _TOML_TYPES if isinstance(value, python)), "date/time")
    return f"{toml} {show(value)}"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


def _no_spaces(value: str) -> str:
    # People type ids (`/as keeper`), so a space would split one.
    if any(ch.isspace() for ch in value):
        raise PydanticCustomError("spaces", "{id} must not contain spaces", {"id": show(value)})
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder: OSError
        raise PydanticCustomError(
            "time_zone",
            'unknown time zone {zone}; use an IANA name like "Asia/Shanghai" or "UTC"',
            {"zone": show(value)},
        ) from None
    return value


def _toml_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "expected a number")
    if not math.isfinite(value):
        raise PydanticCustomError("finite", "expected a finite number, got {n}", {"n": show(value)})
    # Through str so 12.5 stays 12.5 and 0.1 does not become 0.1000000000000000055...
    return Decimal(str(value))


def _time_of_day(value: object) -> object:
    if isinstance(value, time):  # a TOML local time, 08:00:00
        return value
    match = _HH_MM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise PydanticCustomError("time_of_day_type", 'expected a time of day "HH:MM" such as "08:00"')


Text = Annotated[str, AfterValidator(_not_blank)]
Id = Annotated[Text, AfterValidator(_no_spaces)]
# `slack = ""` in the file means the member is not on Slack.
PlatformId = Annotated[Text | None, BeforeValidator(lambda v: None if v == "" else v)]
TimeZone = Annotated[Text, AfterValidator(_known_zone)]
Count = Annotated[int, Field(ge=0)]
Number = Annotated[Decimal, BeforeValidator(_toml_number), Field(ge=0)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]

_DAY = "a day of the month; 29-31 are not in every month"


class _Table(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class BotTable(_Table):
    """`[bot]`: bot-wide settings."""

    timezone: TimeZone = _BOT.timezone
    locale: Locale = "zh"


class PartyTable(_Table):
    """`[[parties]]`: a company, the customer or a supplier."""

    id: Id
    name: Text
    role: PartyRole


class MemberTable(_Table):
    """`[[members]]`: a person, their role, party and id on each platform."""

    id: Id
    name: Text
    party: Text | None = None
    role: Role
    console: PlatformId = None
    slack: PlatformId = None
    wecom: PlatformId = None
    locale: Locale | None = None
    dingtalk: PlatformId = None
    feishu: PlatformId = None  # open_id


class ItemTable(_Table):
    """`[[agreements.items]]`: a part kept in the VMI area."""

    sku: Text
    name: Text
    name_en: Text | None = None  # the name in English replies
    aliases: list[Text] = Field(default_factory=list)
    unit: Text = _ITEM.unit
    min: Count
    max: Count
    pack_size: int = Field(_ITEM.pack_size, ge=1)
    moq: Count = _ITEM.moq
    rounding: Rounding = _ITEM.rounding
    # Required: a forgotten price would bill every withdrawal at 0.
    unit_price: Number = Field(
        description="the price a withdrawn unit is billed at; write 0 if the part is free"
    )
    lead_time_days: Count = _ITEM.lead_time_days


class RemindersTable(_Table):
    """`[agreements.reminders]`: when each reminder is due, and whether it is on."""

    count: bool = _REMIND.count
    count_at: TimeOfDay = _REMIND.count_at
    weekly_plan: bool = _REMIND.weekly_plan
    weekly_plan_weekday: Weekday = "fri"
    weekly_plan_at: TimeOfDay = _REMIND.weekly_plan_at
    monthly_plan: bool = _REMIND.monthly_plan
    monthly_plan_day: int = Field(_REMIND.monthly_plan_day, ge=1, le=28, description=_DAY)
    monthly_plan_at: TimeOfDay = _REMIND.monthly_plan_at
    plan_overdue: bool = _REMIND.plan_overdue
    unconfirmed: bool = _REMIND.unconfirmed
    unconfirmed_hours: int = Field(_REMIND.unconfirmed_hours, ge=1)
    not_arrived: bool = _REMIND.not_arrived


_NO_REMINDERS_TABLE = RemindersTable.model_validate({})


class AgreementTable(_Table):
    """`[[agreements]]`: one customer, one supplier, the terms, the chats and the items."""

    id: Id
    customer: Text
    supplier: Text
    timezone: TimeZone | None = None  # None: the bot's
    review_time: TimeOfDay = DEFAULT_REVIEW_TIME
    review_every_days: int = Field(_TERMS.review_every_days, ge=1)
    plan_due_day: int = Field(_TERMS.plan_due_day, ge=1, le=28, description=_DAY)
    settlement_day: int = Field(_TERMS.settlement_day, ge=1, le=28, description=_DAY)
    overstock_days: Count = _TERMS.overstock_days
    emergency_notice_hours: Count = _TERMS.emergency_notice_hours
    emergency_freight_customer_share: Number = Field(_TERMS.emergency_freight_customer_share, le=1)
    service_level: float = Field(
        _TERMS.service_level,
        ge=0.5,
        le=0.999,
        description="the share of review cycles without a stock-out the suggested min aims at",
    )
    slack_channel: PlatformId = None
    wecom_chat: PlatformId = None
    wecom_webhook_key: PlatformId = None
    dingtalk_chat: PlatformId = None
    dingtalk_webhook: PlatformId = None
    dingtalk_webhook_secret: PlatformId = None
    feishu_chat: PlatformId = None  # chat_id
    wecom_robot_chat: PlatformId = None  # the group's chatid the intelligent robot is in
    wecom_smartsheet: bool = False  # mirror the stock rows to a WeCom smart sheet (智能表格)
    # one shared (frozen) default: 10,000 agreements need not each validate an empty table
    reminders: RemindersTable = Field(default_factory=lambda: _NO_REMINDERS_TABLE)
    items: list[ItemTable] = Field(default_factory=list, min_length=1, validate_default=True)


class AgreementFile(_Table):
    """The whole file."""

    bot: BotTable = Field(default_factory=BotTable)
    parties: list[PartyTable] = Field(default_factory=list)
    members: list[MemberTable] = Field(default_factory=list)
    agreements: list[AgreementTable] = Field(
        default_factory=list, min_length=1, validate_default=True
    )


# Each table by its header, for wording errors: which keys it knows, each key's bounds and note.
TABLES: dict[tuple[str, ...], type[BaseModel]] = {
    (): AgreementFile,
    ("bot",): BotTable,
    ("parties",): PartyTable,
    ("members",): MemberTable,
    ("agreements",): AgreementTable,
    ("agreements", "items"): ItemTable,
    ("agreements", "reminders"): RemindersTable,
}
