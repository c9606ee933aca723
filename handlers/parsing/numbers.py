"""Numbers as people type them: digits with thousands commas, 1万 and 1.5千, Chinese numerals
(四十五, 一百二, 两万零三十), a sign, and a unit after them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from handlers.parsing.vocabulary import OTHER_UNITS, PIECE_UNITS, alternation

_CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
# A quantity as typed, with its sign and unit.
NUMBER_RE = re.compile(
    # A sign only where a number starts: "6205 -5", "=-5", "负5"; not "6205-5" or "6205 - 45".
    r"(?P<sign>(?<![0-9a-z\x00])[-−+]|负\s?)?"
    # Not the tail of a part number: "BRG-8", "bearing8".
    r"(?<![0-9a-z])(?<![0-9a-z][-_/.])"
    # Thousands commas: not 45,629=3; and not starting just after "5," (that number's digits
    # were tried already), or "1,000,000,…,0000" is read again from every comma: quadratic.
    r"(?P<value>(?P<digits>(?<![0-9],)[0-9]{1,3}(?:,[0-9]{3})+(?![0-9,]|\s?[=:])"
    r"|[0-9]+(?:\.[0-9]+)?)"
    rf"(?P<scale>[百千万亿](?![{_CN_NUMERAL}]))?"  # 1万, 1.5千
    rf"|[{_CN_NUMERAL}]+(?:点[零〇一二两三四五六七八九]+)?)"
    rf"(?P<unit>\s?(?:{alternation(PIECE_UNITS + OTHER_UNITS, glued=True)}))?"
    r"(?![0-9a-z])"
)

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_SCALES = {"百": 100, "千": 1000, "万": 10**4, "亿": 10**8}


def chinese_int(text: str) -> int | None:
    """四十五 → 45, 一百二十 → 120, 两百 → 200, 十 → 10, 一万二 → 12000.

    None when the reading is not clear, e.g. digits read one by one (六二零五).
    """
    for char, size in (("亿", 10**8), ("万", 10**4)):
        if char in text:
            high, _, low = text.partition(char)
            high_value = chinese_int(high) if high else None
            if not high_value:
                return None
            if not low:
                return high_value * size
            if low[0] in "零〇":
                low_value = chinese_int(low[1:]) if low[1:] else None
            elif len(low) == 1 and low in _CN_DIGITS:
                low_value = _CN_DIGITS[low] * size // 10  # 一万二 = 12000, as people say it
            else:
                low_value = chinese_int(low)
            if low_value is None or low_value >= size:
                return None
            return high_value * size + low_value
    return _chinese_below_10000(text)


def _chinese_below_10000(text: str) -> int | None:
    if text in ("零", "〇"):
        return 0
    value, last_unit, digit, after_zero = 0, 10_000, None, False
    for char in text:
        if char in "零〇":
            if digit is not None or value == 0:
                return None  # 零 only stands between units: 一百零五
            after_zero = True
        elif char in _CN_DIGITS:
            if digit is not None:
                return None  # 六二: digits read one by one, not a number
            digit = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            unit = _CN_UNITS[char]
            if unit >= last_unit:
                return None
            if digit is None:
                if unit != 10 or value:
                    return None  # only a leading 十 may drop its 一
                digit = 1
            value += digit * unit
            last_unit, digit, after_zero = unit, None, False
        else:
            return None
    if digit is not None:
        # 一百二 is 120, but 一百零二 is 102 and 四十二 is 42.
        tail_is_next_unit = not after_zero and 100 <= last_unit <= 1000
        value += digit * last_unit // 10 if tail_is_next_unit else digit
    elif after_zero:
        return None
    return value


@dataclass(frozen=True)
class Number:
    """A number as typed: "−4.5件" is text "−4.5", value 4.5, negative, unit "件"."""

    text: str
    value: Decimal
    negative: bool
    unit: str
    odd_unit: bool  # a unit that is not pieces, e.g. 箱
    plain: bool  # ASCII digits only, no sign, unit or decimals: could be a part number
    after_equals: bool  # "6205=45" / "6205: 45": a quantity for sure


def read_number(match: re.Match[str], units: frozenset[str], before: str) -> Number | None:
    """The number a NUMBER_RE match names, or None when it is none (六二零五 read digit by digit).

    `units` are the units that mean pieces here; `before` is the text just before the match.
    """
    raw = match["value"]
    if digits := match["digits"]:
        # Never build a huge number from chat text: 40 digits is absurd enough.
        value = Decimal(digits.replace(",", "")) if len(digits) <= 40 else Decimal(10) ** 40
        value *= _SCALES.get(match["scale"] or "", 1)
    else:
        whole, _, fraction = raw.partition("点")
        whole_value = chinese_int(whole)
        if whole_value is None:
            return None  # 六二零五 and the like: not a quantity
        digits = "".join(str(_CN_DIGITS[c]) for c in fraction)
        value = Decimal(f"{whole_value}.{digits}") if digits else Decimal(whole_value)
    unit = (match["unit"] or "").strip()
    sign = (match["sign"] or "").strip()
    return Number(
        text=(sign + raw),
        value=value,
        negative=sign in ("-", "−", "负"),
        unit=unit,
        odd_unit=bool(unit) and unit not in units,
        plain=raw.isdigit() and raw.isascii() and not sign and not unit,
        after_equals=before.rstrip().endswith(("=", ":")),
    )
