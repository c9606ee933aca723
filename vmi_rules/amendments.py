"""Amendments (DESIGN §7): an item's min, max, pack size or MOQ, or a reminder's time, changed
in chat by one party, applied when the other party agrees; the agreement file stays the starting
point, and an applied change holds until the file itself changes that value.

A reminder's time is kept as minutes after midnight (17:00 is 1020), so every figure is a whole
number; a reminder's change has no item (sku "")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Literal

from vmi_rules.terms import Item, ReminderTimes

ItemField = Literal["min", "max", "pack_size", "moq"]
ReminderField = Literal["count_at", "weekly_plan_at", "monthly_plan_at"]
Field = ItemField | ReminderField
FIELDS: tuple[ItemField, ...] = ("min", "max", "pack_size", "moq")
REMINDER_FIELDS: tuple[ReminderField, ...] = ("count_at", "weekly_plan_at", "monthly_plan_at")
Side = Literal["customer", "supplier"]


@dataclass(frozen=True)
class Change:
    """One figure of an amendment: `field` from `old` to `new`, made while the file said
    `file_value`."""

    field: Field
    old: int
    new: int
    file_value: int


@dataclass(frozen=True)
class AppliedChange:
    """An agreed change as it stands in the record, for working out the effective terms."""

    amendment_id: str  # "A3"
    sku: str
    change: Change
    proposed_by: str  # names, as the status shows them
    agreed_by: str
    agreed_at: datetime


@dataclass(frozen=True)
class Source:
    """Where an effective figure comes from: the file, or an amendment (who, when)."""

    field: Field
    amendment_id: str = ""  # "" : the file
    proposed_by: str = ""
    agreed_by: str = ""
    agreed_at: datetime | None = None


def minutes(at: time) -> int:
    """A time of day as minutes after midnight: 17:00 is 1020."""
    return at.hour * 60 + at.minute


def clock(value: int) -> time:
    """Minutes after midnight as a time of day: 1020 is 17:00."""
    return time(value // 60, value % 60)


def shown(field: Field, value: int) -> str:
    """A figure as people read it: a reminder's time as 17:00, anything else as the number."""
    if field not in REMINDER_FIELDS:
        return str(value)
    return f"{clock(value):%H:%M}" if 0 <= value < 24 * 60 else "?"  # 25:00 typed


def invalid_times(reminders: ReminderTimes, changes: Mapping[ReminderField, int]) -> str:
    """Why new reminder times cannot be agreed ("bad_time", "no_change"), or ""."""
    if any(not 0 <= value < 24 * 60 for value in changes.values()):
        return "bad_time"
    if all(minutes(getattr(reminders, f)) == value for f, value in changes.items()):
        return "no_change"
    return ""


def current_value(item: Item | None, reminders: ReminderTimes, field: Field) -> int:
    """A figure as it stands: an item's, or a reminder's time in minutes."""
    if field in REMINDER_FIELDS:
        return minutes(getattr(reminders, field))
    return int(getattr(item, field))


def effective_reminders(
    reminders: ReminderTimes, applied: Iterable[AppliedChange]
) -> tuple[ReminderTimes, tuple[Source, ...]]:
    """The reminder times as agreed: the file's, with each time's latest agreed change the file
    has not overtaken since, and where each time comes from."""
    latest: dict[ReminderField, AppliedChange] = {}
    for change in applied:
        field = change.change.field
        if (
            field in REMINDER_FIELDS
            and minutes(getattr(reminders, field)) == change.change.file_value
        ):
            latest[field] = change  # a ReminderField, checked above

    def at(field: ReminderField) -> time:
        change = latest.get(field)
        return clock(change.change.new) if change else getattr(reminders, field)

    agreed = replace(
        reminders,
        count_at=at("count_at"),
        weekly_plan_at=at("weekly_plan_at"),
        monthly_plan_at=at("monthly_plan_at"),
    )
    sources = tuple(
        Source(field, a.amendment_id, a.proposed_by, a.agreed_by, a.agreed_at)
        if (a := latest.get(field)) is not None
        else Source(field)
        for field in REMINDER_FIELDS
    )
    return agreed, sources


def why_not(item: Item | None, reminders: ReminderTimes, changes: Mapping[Field, int]) -> str:
    """Why an amendment cannot be agreed (see `invalid` and `invalid_times`), or ""."""
    times: dict[ReminderField, int] = {}
    figures: dict[ItemField, int] = {}
    for field, value in changes.items():
        if field in REMINDER_FIELDS:
            times[field] = value
        elif field in FIELDS:
            figures[field] = value
    if times:
        return invalid_times(reminders, times)
    return invalid(item, figures) if item is not None else "unknown_item"


def invalid(item: Item, changes: Mapping[ItemField, int]) -> str:
    """Why `changes` to `item` (as it stands now) cannot be agreed, or "" when they can:
    "not_positive" (a min, max or pack size of 0 or less, a negative MOQ), "min_not_below_max",
    "no_change" (every figure already is so) or "moq_above_max" (with rounding down)."""
    for field, value in changes.items():
        if value < 0 or (value == 0 and field != "moq"):
            return "not_positive"
    after = _with(item, changes)
    if after.min >= after.max:
        return "min_not_below_max"
    if after.rounding == "down" and after.moq > after.max:
        return "moq_above_max"  # nothing could ever be ordered
    if all(getattr(item, field) == value for field, value in changes.items()):
        return "no_change"
    return ""


def file_wins(item: Item | None, reminders: ReminderTimes, applied: AppliedChange) -> bool:
    """The file changed this figure since the amendment was agreed: the file's value holds."""
    return current_value(item, reminders, applied.change.field) != applied.change.file_value


def effective_item(item: Item, applied: Iterable[AppliedChange]) -> tuple[Item, tuple[Source, ...]]:
    """The item as agreed: the file's `item` with each figure's latest agreed change (in the
    order given) that the file has not overtaken since, and where each figure comes from."""
    latest: dict[ItemField, AppliedChange] = {}
    for change in applied:
        field = change.change.field
        if (
            change.sku == item.sku
            and field in FIELDS
            and getattr(item, field) == change.change.file_value
        ):
            latest[field] = change  # an ItemField, checked above
    values = {field: a.change.new for field, a in latest.items()}
    sources = tuple(
        Source(field, a.amendment_id, a.proposed_by, a.agreed_by, a.agreed_at)
        if (a := latest.get(field)) is not None
        else Source(field)
        for field in FIELDS
    )
    return _with(item, values), sources


def _with(item: Item, values: Mapping[ItemField, int]) -> Item:
    """The item with these figures changed."""
    return replace(
        item,
        min=values.get("min", item.min),
        max=values.get("max", item.max),
        pack_size=values.get("pack_size", item.pack_size),
        moq=values.get("moq", item.moq),
    )


def may_agree(proposer_side: Side | None, proposer: str, member: str, side: Side | None) -> str:
    """Why `member` (of `side`) may not agree to an amendment proposed by `proposer` (of
    `proposer_side`), or "" when they may: the other party agrees, never the proposer. A
    member of no party (an admin over every agreement) answers for either side."""
    if member == proposer:
        return "own_amendment"
    if side is not None and side == proposer_side:
        return "same_side"
    return ""
