"""Amendments and 谁没盘点, read before the rest of the parser: their words (修改, 同意, 拒绝)
mean something else beside a proposal id, so they are recognised by their own shape first.

- "修改 6205 补货线 55 安全线 110", "change 6205 min 55 max 110", "修改 6205 包装 10";
- "同意 A1", "agree A1", "A1 同意"; "不同意 A1 原因", "reject A1 reason";
- "谁没盘点", "who hasn't counted".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import cast

from handlers.parsing.normalise import lowered, normalise
from handlers.parsing.parsed import (
    MAX_QTY,
    Amend,
    AmendAnswer,
    AmendField,
    Intent,
    Refusal,
    Uncounted,
)
from handlers.parsing.vocabulary import VOCABULARY, alternation
from vmi_rules.terms import Item

_FIELDS: tuple[AmendField, ...] = ("min", "max", "pack_size", "moq")
_WORD_OF = {word: field for field in _FIELDS for word in VOCABULARY.words("amendments", field)}
_FIELD_RE = re.compile(
    rf"({alternation(_WORD_OF)})\s*(?:[:=：]|to\b|为|改为|改成)?\s*(-?[0-9][0-9,.]*)?"
)
_CHANGE_RE = re.compile(rf"^(?:{alternation(VOCABULARY.words('amendments', 'change'))})\s*")
_AID = r"a[0-9]{1,9}(?![0-9a-z])"
_AGREE = alternation(VOCABULARY.words("amendments", "agree"))
_DISAGREE = alternation(VOCABULARY.words("amendments", "disagree"))
_ANSWER_RE = re.compile(
    rf"^(?:(?P<no>{_DISAGREE})|(?P<yes>{_AGREE}))\s*(?P<id>{_AID})|"
    rf"^(?P<id2>{_AID})\s*(?:(?P<no2>{_DISAGREE})|(?P<yes2>{_AGREE}))"
)
_REMINDER_RE = re.compile(alternation(VOCABULARY.words("amendments", "reminder")))
_WHICH_REMINDER = {
    word: field
    for field in ("count_at", "weekly_plan_at", "monthly_plan_at")
    for word in VOCABULARY.words("amendments", field)
}
_WHICH_RE = re.compile(alternation(_WHICH_REMINDER))
_TIME_RE = re.compile(
    r"(?<![0-9])([0-9]{1,2})(?:[:：]([0-9]{2})|点(?:([0-9]{1,2})分?|半)?)(?![0-9])"
)
_UNCOUNTED = frozenset(VOCABULARY.words("amendments", "uncounted"))
_QUESTION_END = " ?？!！。.吗呢"
_REASON_PREFIX = re.compile(r"^(?:原因|理由|因为|reason|because)\s*[:,：，]?\s*", re.IGNORECASE)
_EDGE = " \t\n,.;:!?、。，：；()（）"


def read_amendment(text: str, items: Sequence[Item]) -> Intent | Refusal | None:
    """An amendment, an answer to one or 谁没盘点 in `text`; None when it is none of them."""
    raw = normalise(text)
    low = lowered(raw)
    if low.rstrip(_QUESTION_END) in _UNCOUNTED:
        return Uncounted()
    answer = _ANSWER_RE.match(low)
    if answer is not None:
        public = (answer["id"] or answer["id2"]).upper()
        if answer["yes"] or answer["yes2"]:
            return AmendAnswer("amend_agree", public)
        reason = _REASON_PREFIX.sub("", raw[answer.end() :].strip(_EDGE)).strip(_EDGE)
        return AmendAnswer("amend_reject", public, reason=reason)
    change = _CHANGE_RE.match(low)
    if change is not None and _REMINDER_RE.search(low, change.end()):
        return _reminder(low, change.end())
    if change is None or not _FIELD_RE.search(low, change.end()):
        return None  # "修改 P1 60" is an adjustment, read by the rest of the parser
    return _amend(raw, low, change.end(), items)


def _amend(raw: str, low: str, start: int, items: Sequence[Item]) -> Amend | Refusal:
    """修改 ITEM FIELD N [FIELD N …]: the item and each figure, checked as numbers."""
    matches = list(_FIELD_RE.finditer(low, start))
    subject = raw[start : matches[0].start()].strip(_EDGE)
    rest = "".join(low[m.end() : n.start()] for m, n in pairwise(matches))
    tail = low[matches[-1].end() :].strip(_EDGE)
    item = named_item(subject, items)
    if item is None:
        if not subject:
            return Refusal("ambiguous", hint="amend", missing="item")
        return Refusal("unknown_item", detail=subject, hint="amend")
    if rest.strip(_EDGE) or tail:
        extra = (rest.strip(_EDGE) or tail)[:40]
        return Refusal("not_understood", detail=extra, hint="amend", sku=item.sku)
    changes: dict[AmendField, int] = {}
    for match in matches:
        field = _WORD_OF[match[1]]
        if match[2] is None:
            return Refusal("ambiguous", detail=match[1], hint="amend", missing="qty", sku=item.sku)
        value = whole_figure(match[2], item.sku)
        if isinstance(value, Refusal):
            return value
        if field in changes:
            return Refusal(
                "ambiguous", detail=match[1], hint="amend", missing="duplicate", sku=item.sku
            )
        changes[field] = value
    return Amend(item.sku, tuple(changes.items()))


def _reminder(low: str, start: int) -> Amend | Refusal:
    """修改 盘点提醒 17:00 / change count reminder 17:00: one reminder, one time of day."""
    which = {_WHICH_REMINDER[m[0]] for m in _WHICH_RE.finditer(low, start)}
    times = list(_TIME_RE.finditer(low, start))
    if len(which) != 1:
        return Refusal("ambiguous", detail=low[start:].strip()[:40], hint="amend_reminder")
    if len(times) != 1:
        return Refusal(
            "ambiguous", detail=low[start:].strip()[:40], hint="amend_reminder", missing="qty"
        )
    hour, minute = int(times[0][1]), int(times[0][2] or times[0][3] or 0)
    if times[0][0].endswith("半"):
        minute = 30
    field = cast(AmendField, which.pop())
    # 25:00 or 17:75 is no time of day: -1, which the handler refuses as one ("bad_time")
    value = hour * 60 + minute if hour < 24 and minute < 60 else -1
    return Amend("", ((field, value),))


def whole_figure(text: str, sku: str, hint: str = "amend") -> int | Refusal:
    """A figure of the terms (min, max, pack size, MOQ): a whole number, not negative, not
    absurd; else why not, for the reply of `hint`."""
    try:
        value = Decimal(text.replace(",", "").rstrip("."))
    except InvalidOperation:
        return Refusal("bad_quantity", detail=text, hint=hint, sku=sku)
    if value < 0:
        return Refusal("bad_quantity", detail=text, hint=hint, sku=sku)
    if value > MAX_QTY:
        return Refusal("too_large", detail=text, hint=hint, sku=sku)
    if value != value.to_integral_value():
        return Refusal("fraction", detail=text, hint=hint, sku=sku)
    return int(value)


def _key(name: str) -> str:
    return "".join(name.split()).casefold()


def named_item(subject: str, items: Sequence[Item]) -> Item | None:
    """The item named by sku, alias or name, ignoring case and spaces."""
    key = _key(subject)
    if not key:
        return None
    for item in items:
        if key in (_key(item.sku), _key(item.name), *(_key(a) for a in item.aliases)):
            return item
    return None
