"""The choices on an overstock alert, read before anything else: an alert id (O1) with one of
退货 / 折价 / 继续观察 (return / discount / keep). Without both, the message is not one of
these and the other readers decide."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from handlers.parsing.normalise import lowered, normalise
from handlers.parsing.parsed import MAX_QTY, OverstockChoice, OverstockChoiceKind, Refusal

_ALERT_ID = re.compile(r"(?<![0-9a-z])o\s?([0-9]{1,9})(?![0-9a-z])")
# longest first, so "继续观察" is one word and "keep watching" is not "keep" and a stray word
_VERBS: tuple[tuple[str, OverstockChoiceKind], ...] = (
    ("继续观察", "keep"), ("keep watching", "keep"), ("观察", "keep"), ("keep", "keep"),
    ("watch", "keep"), ("退货", "return"), ("退回", "return"), ("退还", "return"),
    ("return", "return"), ("折价", "discount"), ("打折", "discount"), ("降价", "discount"),
    ("discount", "discount"),
)  # fmt: skip
_NUMBER = re.compile(r"(-|−)?(?<![0-9.])([0-9]+(?:\.[0-9]+)?)(?![0-9])")
_QUESTION = re.compile(r"[?？]|吗|呢")
_GUESS = re.compile(r"约|大概|左右|差不多|about|around|roughly")


def read_overstock(text: str) -> OverstockChoice | Refusal | None:
    """The choice `text` makes on an overstock alert, why it cannot be taken, or None when it
    names no alert with a choice word (then it is for the other readers)."""
    said = lowered(normalise(text))
    ids = list(dict.fromkeys(int(m[1]) for m in _ALERT_ID.finditer(said)))
    if not ids:
        return None
    found = next(((word, kind) for word, kind in _VERBS if word in said), None)
    if found is None:
        return None
    word, choice = found
    hint = f"overstock_{choice}"
    if len(ids) > 1:
        detail = " ".join(f"O{i}" for i in ids)
        return Refusal("ambiguous", detail=detail, hint=hint)
    alert_id = f"O{ids[0]}"
    if _QUESTION.search(said) or _GUESS.search(said):
        return Refusal("ambiguous", detail=text.strip()[:40], hint=hint)  # asked: record nothing
    rest = _ALERT_ID.sub(" ", said).replace(word, " ")
    numbers = list(_NUMBER.finditer(rest))
    if choice == "keep":
        return OverstockChoice("keep", alert_id)
    if len(numbers) > 1:
        detail = " ".join(m[0] for m in numbers)
        return Refusal("ambiguous", detail=detail, hint=hint, missing="extra_number")
    if not numbers:
        if choice == "discount":
            return OverstockChoice("discount", alert_id)  # the reply asks for the price
        return Refusal("ambiguous", detail=alert_id, hint=hint, missing="qty")
    number = numbers[0]
    if number[1]:
        return Refusal("bad_quantity", detail=number[0], hint=hint)
    try:
        amount = Decimal(number[2])
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        return Refusal("bad_quantity", detail=number[0], hint=hint)
    if choice == "discount":
        return OverstockChoice("discount", alert_id, price=amount)
    if amount != amount.to_integral_value():
        return Refusal("fraction", detail=number[0], hint=hint)
    if amount > MAX_QTY:
        return Refusal("too_large", detail=number[0], hint=hint)
    if amount == 0:
        return Refusal("bad_quantity", detail=number[0], hint=hint)
    return OverstockChoice("return", alert_id, qty=int(amount))
