"""Items with quantities: pairing the items a message names with the numbers after them,
and checking each quantity. Shared by the readers of counts, withdrawals, plans and proposals."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from handlers.parsing.numbers import Number
from handlers.parsing.parsed import (
    MAX_QTY,
    Refusal,
)
from handlers.parsing.tokens import Message, Tok


def named_skus(msg: Message) -> list[str]:
    """The distinct items named, in order."""
    return list(dict.fromkeys(str(tok.value) for tok in msg.of("item")))


def quantity_tokens(msg: Message) -> list[Tok]:
    """Numbers that can only be quantities ("6299 库存?" has a part number, not a quantity)."""
    return [tok for tok in msg.of("num") if not maybe_part_number(tok)]


def numeric_codes(msg: Message) -> list[Tok]:
    """Numbers that may be part numbers: plain, three digits or more ("6299")."""
    return [tok for tok in msg.of("num") if maybe_part_number(tok)]


def line_of(msg: Message, tok: Tok) -> int:
    """The line of the message `tok` is on, counted from 0."""
    return bisect_right(msg.line_starts, tok.start)


@dataclass
class Pairing:
    """What `pair_items` found: items with their numbers, and what is left unpaired."""

    pairs: list[tuple[Tok, Tok]]  # (item, code or text; number)
    strays: list[Tok]  # numbers with no item
    orphans: list[Tok]  # items or codes with no number
    remarks: list[Tok] = field(default_factory=list)  # words after a line's count, with a number


def maybe_part_number(tok: Tok) -> bool:
    """A plain number of three digits or more, not after "=": it may name an item."""
    number = tok.value
    assert isinstance(number, Number)
    return number.plain and len(number.text) >= 3 and not number.after_equals


def pair_items(msg: Message) -> Pairing:
    """Pair each item with the number after it: "6205 45 6206 30", "库存 6205=45, 6206=30".

    A plain number of three or more digits followed by another number is an unknown part
    number ("6299 45"); text followed by a number is an unknown item name ("滚子轴承 45").
    """
    sequence = without_row_numbers(msg, msg.of("item", "code", "num", "text"))
    result = Pairing([], [], [])
    subject: Tok | None = None
    paired_on = -1  # the line of the last pair: Chinese words after it are a remark
    remarks_at: set[int] = set()
    for index, tok in enumerate(sequence):
        following = sequence[index + 1] if index + 1 < len(sequence) else None
        line = line_of(msg, tok)
        if subject is not None and subject.kind == "text" and line_of(msg, subject) != line:
            subject = None  # a header or title row names no item of the rows below it
        if tok.kind == "num" and subject is None and is_numeric_code(tok, following):
            tok = Tok("code", tok.start, tok.end, tok.text, tok.text)
        remark = tok.kind == "text" and subject is None and line == paired_on and chinese(tok.text)
        if tok.kind in ("item", "code"):
            same_item = subject is not None and subject.kind == tok.kind == "item"
            if (
                subject is not None
                and subject.kind != "text"
                and not (same_item and subject.value == tok.value)
            ):
                result.orphans.append(subject)
            subject = tok
        elif tok.kind == "text":
            subject = subject or tok  # text after an item describes it: "6205 深沟 45"
            if remark:
                remarks_at.add(tok.start)
        elif subject is None:
            result.strays.append(tok)
        elif subject.start in remarks_at:  # "98 其中坏了5个": the 5 say more than the count
            result.remarks.append(subject)
            subject = None
        else:
            result.pairs.append((subject, tok))
            subject, paired_on = None, line
    if subject is not None and subject.kind != "text":
        result.orphans.append(subject)
    if not result.pairs and len(result.strays) == 1 and len(result.orphans) == 1:
        # "领用10件6205": one number before one item.
        result = Pairing([(result.orphans[0], result.strays[0])], [], [])
    return result


def chinese(text: str) -> bool:
    """Whether `text` has a Chinese character (a remark after a count is written in words)."""
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def without_row_numbers(msg: Message, sequence: list[Tok]) -> list[Tok]:
    """A sheet's 序号 column goes: "1\t6205\t45" is row 1, item 6205, 45 on the shelf.

    A small number first on its line, followed on that line by an item or code and a number.
    """
    kept: list[Tok] = []
    for index, tok in enumerate(sequence):
        rest = sequence[index + 1 : index + 3]
        line = line_of(msg, tok)
        if (
            tok.kind == "num"
            and tok.text.isdigit()
            and len(tok.text) <= 3
            and (index == 0 or line_of(msg, sequence[index - 1]) != line)
            and [t.kind for t in rest] in (["item", "num"], ["code", "num"])
            and all(line_of(msg, t) == line for t in rest)
        ):
            continue  # the row's number, not a quantity
        kept.append(tok)
    return kept


def is_numeric_code(tok: Tok, following: Tok | None) -> bool:
    """A number that names an unknown item: a part number followed by its quantity."""
    if not maybe_part_number(tok) or following is None:
        return False
    return following.kind == "num" or (following.kind == "text" and following.start == tok.end)


def checked_quantity(tok: Tok, hint: str, allow_zero: bool) -> int | Refusal:
    """A whole, positive (or zero, for counts and plans), sane quantity, or why not."""
    number = tok.value
    assert isinstance(number, Number)
    if number.negative and number.value != 0:
        return Refusal("bad_quantity", detail=number.text, hint=hint)
    if number.value > MAX_QTY:
        return Refusal("too_large", detail=number.text, hint=hint)
    if number.value != number.value.to_integral_value():
        return Refusal("fraction", detail=number.text, hint=hint)
    if number.value == 0 and not allow_zero:
        return Refusal("bad_quantity", detail=number.text, hint=hint)
    if number.odd_unit:
        return Refusal("ambiguous", detail=number.text + number.unit, hint=hint, missing="unit")
    return int(number.value)


def item_quantities(msg: Message, hint: str, allow_zero: bool) -> list[tuple[str, int]] | Refusal:
    """The (sku, qty) pairs of the message, or the first problem found, most telling first."""
    pairing = pair_items(msg)
    if pairing.remarks:  # "6205 库存 98 其中坏了5个": what the 5 are, we cannot book
        remark = pairing.remarks[0]
        line_end = msg.raw.find("\n", remark.start)
        detail = msg.raw[remark.start : line_end if line_end >= 0 else None].strip()
        sku = str(pairing.pairs[0][0].value) if pairing.pairs else ""
        return Refusal("remark", detail=detail, hint=hint, sku=sku)
    for subject, _ in pairing.pairs:
        if subject.kind != "item":
            return Refusal("unknown_item", detail=subject.text, hint=hint)
    for orphan in pairing.orphans:
        if orphan.kind == "code":
            return Refusal("unknown_item", detail=orphan.text, hint=hint)
    lines: list[tuple[str, int]] = []
    for subject, number in pairing.pairs:
        qty = checked_quantity(number, hint, allow_zero)
        if isinstance(qty, Refusal):
            return qty
        lines.append((str(subject.value), qty))
    if pairing.orphans:  # "库存 6205": how many?
        orphan = pairing.orphans[0]
        return Refusal("ambiguous", detail=orphan.text, hint=hint, missing="qty",
                       sku=str(orphan.value))  # fmt: skip
    if pairing.strays and lines:  # "6205 库存 1 01": which item is the 01 of?
        return Refusal("ambiguous", detail=pairing.strays[0].text, hint=hint,
                       missing="extra_number", sku=lines[0][0])  # fmt: skip
    if pairing.strays or not lines:  # "库存 45": of what?
        detail = pairing.strays[0].text if pairing.strays else ""
        return Refusal("ambiguous", detail=detail, hint=hint, missing="item")
    skus = [sku for sku, _ in lines]
    if len(set(skus)) != len(skus):  # "6205 45, 6205 50": which one?
        duplicate = next(sku for sku in skus if skus.count(sku) > 1)
        return Refusal("ambiguous", detail=duplicate, hint=hint, missing="duplicate", sku=duplicate)
    return lines
