"""Amendments (DESIGN §7): an item's min, max, pack size or MOQ changed in chat by one party,
applied when the other party agrees; the agreement file stays the starting point, and an
applied change holds until the file itself changes that value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from vmi_rules.terms import Item

Field = Literal["min", "max", "pack_size", "moq"]
FIELDS: tuple[Field, ...] = ("min", "max", "pack_size", "moq")
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


def invalid(item: Item, changes: Mapping[Field, int]) -> str:
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


def file_wins(item: Item, applied: AppliedChange) -> bool:
    """The file changed this figure since the amendment was agreed: the file's value holds."""
    return bool(getattr(item, applied.change.field) != applied.change.file_value)


def effective_item(item: Item, applied: Iterable[AppliedChange]) -> tuple[Item, tuple[Source, ...]]:
    """The item as agreed: the file's `item` with each figure's latest agreed change (in the
    order given) that the file has not overtaken since, and where each figure comes from."""
    latest: dict[Field, AppliedChange] = {}
    for change in applied:
        if change.sku == item.sku and not file_wins(item, change):
            latest[change.change.field] = change
    values = {field: a.change.new for field, a in latest.items()}
    sources = tuple(
        Source(field, a.amendment_id, a.proposed_by, a.agreed_by, a.agreed_at)
        if (a := latest.get(field)) is not None
        else Source(field)
        for field in FIELDS
    )
    return _with(item, values), sources


def _with(item: Item, values: Mapping[Field, int]) -> Item:
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
