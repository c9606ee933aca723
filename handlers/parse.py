"""Chat text → intent: what keepers, buyers and suppliers type, turned into data.

`parse` is pure: no I/O and no clock (the caller passes `today` in the agreement's time zone).
It reads Chinese and English, skus and aliases, full-width text, units, Chinese numerals and
Excel pastes, and answers either an intent or a `Refusal` that says why and what it looked like.

How it works, in three steps:

1. `normalise` the text (NFKC, mentions, spaces).
2. `_Message` scans it into tokens, most specific first: items, proposal ids, dates, periods,
   keywords, times, numbers, part-number-like codes; what is left becomes text chunks. Each pass
   masks what it took, so later passes never re-read it (an item's digits are never a quantity).
3. `_decide` picks the intent from the keywords present, and that intent's reader pairs items
   with quantities and checks them.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from vmi_rules.periods import Period, month_of, next_month, next_week, parse_period, week_of
from vmi_rules.terms import Item

# ---------------------------------------------------------------------------------------------
# The intents


@dataclass(frozen=True)
class ItemQty:
    """One item and a quantity, in the item's unit."""

    sku: str
    qty: int


@dataclass(frozen=True)
class Count:
    """A stock count (库存 / 盘点 / stock): what is on the shelf now, one line per item."""

    lines: tuple[ItemQty, ...]


@dataclass(frozen=True)
class Correction:
    """A count typed wrong, put right (更正): the level is set, and no withdrawal is inferred."""

    lines: tuple[ItemQty, ...]


@dataclass(frozen=True)
class Withdrawal:
    """Parts taken out of the VMI area (领用 / used)."""

    lines: tuple[ItemQty, ...]


@dataclass(frozen=True)
class Receipt:
    """A proposal's goods arrived (入库 / received); `qty` is set for a partial receipt."""

    proposal_id: str
    qty: int | None = None


@dataclass(frozen=True)
class Plan:
    """The buyer's demand plan for one item and period (需求计划)."""

    sku: str
    period: Period
    qty: int


@dataclass(frozen=True)
class Emergency:
    """An urgent change of demand (紧急需求): the new requirement for the period."""

    sku: str
    period: Period
    qty: int


Action = Literal["confirm", "adjust", "reject", "ship"]


@dataclass(frozen=True)
class ProposalAction:
    """A buyer's or supplier's answer to a replenishment proposal.

    `adjust` carries the new quantity (adjusting also confirms, DESIGN §3.5), `reject` a reason,
    `ship` an optional quantity and ETA.
    """

    action: Action
    proposal_id: str
    qty: int | None = None
    reason: str = ""
    eta: date | None = None


@dataclass(frozen=True)
class Status:
    """A question about stock and proposals; `sku` None means every item."""

    sku: str | None = None


@dataclass(frozen=True)
class Help:
    """帮助 / help / ?"""


@dataclass(frozen=True)
class ReviewNow:
    """Run the replenishment review now (检查 / check)."""


Intent = (
    Count
    | Correction
    | Withdrawal
    | Receipt
    | Plan
    | Emergency
    | ProposalAction
    | Status
    | Help
    | ReviewNow
)

RefusalReason = Literal[
    "unknown_item",
    "bad_quantity",
    "too_large",
    "fraction",
    "ambiguous",
    "not_understood",
    "bad_period",
]

# The hints a Refusal can carry: the intent the message looked like, so the reply can show
# the right example. "proposal" means a proposal id without a verb (P1 alone).
HINTS = (
    "count",
    "correction",
    "withdrawal",
    "receipt",
    "plan",
    "emergency",
    "confirm",
    "adjust",
    "reject",
    "ship",
    "status",
    "proposal",
)


@dataclass(frozen=True)
class Refusal:
    """Why a message was not turned into an intent; nothing must change because of it.

    `detail` is the offending text as typed (an unknown item, a bad number or period);
    `hint` is the intent it looked like (one of HINTS, or "" for plain chat).
    """

    reason: RefusalReason
    detail: str = ""
    hint: str = ""


MAX_QTY = 1_000_000

# ---------------------------------------------------------------------------------------------
# Normalising


_SLACK_MENTION = re.compile(r"<[@!#][^<>]*>")
_LEADING_AT = re.compile(r"^(?:@\S+\s+)+|^@\S+$")
_TRAILING_AT = re.compile(r"(?:\s+@\S+)+$")
_SLASH_COMMAND = re.compile(r"^/(?:vmi\b\s*)?", re.IGNORECASE)
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def normalise(text: str) -> str:
    """The message as the parser reads it: NFKC, no mentions, single spaces, no empty lines.

    Case is kept (reasons and details are shown back as typed); matching lower-cases a copy.
    """
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for char in text:
        if char in _LINE_BREAKS:
            kept.append("\n")
        elif char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            continue  # zero-width spaces, BOMs, control bytes: invisible, never meant
        else:
            kept.append(char)
    text = "".join(kept).replace("’", "'").replace("‘", "'")
    # Slack sends <@U123> for mentions and escapes &, <, > in user text.
    text = _SLACK_MENTION.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line)
    # "@VMI机器人 库存 6205 45": the caller usually strips the mention, but be tolerant.
    text = _TRAILING_AT.sub("", _LEADING_AT.sub("", text))
    return _SLASH_COMMAND.sub("", text).strip()


def _lower(text: str) -> str:
    """Lower case without changing the length, so positions match the original text."""
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


# ---------------------------------------------------------------------------------------------
# Vocabulary


def _words(text: str) -> tuple[str, ...]:
    """Keyword lists are written as "a|b|c": compact, and English phrases keep their spaces."""
    return tuple(text.split("|"))


# Strong words name an intent on their own: "确认" alone is a half-typed command (which
# proposal?). Weak words are everyday chat ("收到" = "got it") and only count beside data.
_STRONG: dict[str, tuple[str, ...]] = {
    "help": _words(
        "帮助|怎么用|怎么使用|如何使用|使用说明|使用方法|用法|说明|命令|菜单|指令|你能做什么|能做什么"
        "|help|usage|commands|how to use|what can you do"
    ),
    "review": _words("补货检查|检查补货|立即检查|检查|check|review|check now"),
    "status": _words("状态|查询|查看|多少|几个|几件|status|how many|how much|what's|what is|whats"),
    "correction": _words("更正|修正|纠正|改正|输错了|correction|corrected"),
    "count": _words(
        "库存|盘点|盘库|现存|结存|实存|在库|现有"
        "|stock|stocks|count|counted|inventory|on hand|onhand|stocktake"
    ),
    "withdrawal": _words(
        "领用|领料|领取|领了|领走|用了|用掉|消耗|出库|取用"
        "|used|withdraw|withdrew|withdrawn|withdrawal|consumed|issued"
    ),
    "receipt": _words("入库|收货|到货|签收|已收|received|receipt|arrived"),
    "plan": _words("需求|计划|预计领用|预计用量|预计|预测|plan|planned|planning|forecast|demand"),
    "emergency": _words("紧急|加急|急需|急用|urgent|urgently|emergency|rush|asap"),
    "confirm": _words("确认|批准|同意|confirm|confirmed|approve|approved|accept|accepted"),
    "adjust": _words("调整|修改|改为|改成|调为|adjust|adjusted|modify|amend"),
    "reject": _words(
        "拒绝|驳回|不同意|不要|取消|reject|rejected|decline|declined|refuse|refused|cancel"
    ),
    "ship": _words("发货|已发货|发出|寄出|出货|ship|shipped|shipping|dispatch|dispatched"),
}
_WEAK: dict[str, tuple[str, ...]] = {
    "receipt": _words("收到|收了|到了|got|receive"),
    "ship": _words("发了|sent|send"),
    "withdrawal": _words("use|took|take|taken"),
    "plan": _words("need|needs|需要|要用|expected|expect"),
    "adjust": _words("改|change|changed|set"),
    "count": _words("剩余|剩下|还剩|剩|left|remaining|have|has"),
}
# Agreement words confirm a named proposal ("ok P1") and mean nothing otherwise ("ok").
_YES = _words("ok|okay|好的|好|可以|行|确定|yes|agree|agreed")
_QUESTION = _words("吗|呢|哪|什么时候|when|where")
# Marks the number after it as the old value: "从90改为120", "120 instead of 90".
_WAS = _words("从|原|原来|原先|from|instead of")
# Words that carry no meaning here; taking them out lets "请帮我检查一下" be just "检查", and
# keeps "一下" / "一共" from being read as the number one.
_FILLER = _words(
    "的|了|是|有|共有|还有|现在|目前|当前|一共|总共|合计|共|请|麻烦|帮忙|帮我|一下|立即|马上|立刻|数量"
    "|为|吧|啊|呀|哦|嗯|谢谢|多谢|物料|型号|名称|编码|编号|料号|单位|件数|个数|机器人|已经|已"
    "|都|这个|那个|实际|结果|情况|怎么样|上午|下午|早上|晚上|报告|原因|理由|大约|大概|约|到|给|把"
    "|预计到货|预计到达|到达"
    "|please|pls|plz|now|the|a|an|of|for|is|are|was|were|we|there|on|in|at|to|by|qty|quantity"
    "|units|unit|pcs|item|items|sku|part|me|my|our|run|all|bot|vmi|current|currently|thanks"
    "|thank|you|it|its|just|total|new|report|eta|reason|because|about|approx|level|levels"
    "|arrive|arriving|arrives"
)


def _keyword_table() -> dict[str, tuple[str, bool]]:
    """keyword → (family, strong); fillers, yes-words and question words are families too."""
    table: dict[str, tuple[str, bool]] = {}
    for words, family, strong in (
        (_FILLER, "filler", False),
        (_QUESTION, "question", False),
        (_YES, "yes", False),
        (_WAS, "was", False),
    ):
        table.update(dict.fromkeys(words, (family, strong)))
    for family, words in _WEAK.items():
        table.update(dict.fromkeys(words, (family, False)))
    for family, words in _STRONG.items():
        table.update(dict.fromkeys(words, (family, True)))
    return table


_KEYWORDS = _keyword_table()


def _alternation(words: Sequence[str], glued: bool = False) -> str:
    """A regex matching any of the words, longest first; ASCII words only as whole words.

    `glued` words may follow a digit directly (units: "45pcs").
    """
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        part = re.escape(word)
        if word[0].isascii() and word[0].isalnum() and not glued:
            part = r"(?<![0-9a-z])" + part
        if word[-1].isascii() and word[-1].isalnum():
            part += r"(?![0-9a-z])"
        parts.append(part)
    return "|".join(parts)


_KEYWORD_RE = re.compile(_alternation(list(_KEYWORDS)))

# Units that mean "pieces" and can be dropped after a number; other units ("5箱") change the
# quantity and are refused unless the item itself is counted in them.
_PIECE_UNITS = _words("件|个|只|套|pcs|pc|ea|piece|pieces|sets|set")
_OTHER_UNITS = _words(
    "箱|盒|包|袋|卷|托|板|桶|瓶|公斤|千克|斤|吨|米|kg|box|boxes|carton|cartons|pallet|pallets"
    "|bag|bags|roll|rolls"
)
_CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
_NUMBER_RE = re.compile(
    # A sign only where a number starts: "6205 -5", "=-5", "负5"; not "6205-5" or "6205 - 45".
    r"(?P<sign>(?<![0-9a-z\x00])[-−+]|负\s?)?"
    # Not the tail of a part number: "BRG-8", "bearing8".
    r"(?<![0-9a-z])(?<![0-9a-z][-_/.])"
    r"(?P<value>(?P<digits>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9,]|\s?[=:])"  # not 45,629=3
    r"|[0-9]+(?:\.[0-9]+)?)"
    rf"(?P<scale>[百千万亿](?![{_CN_NUMERAL}]))?"  # 1万, 1.5千
    rf"|[{_CN_NUMERAL}]+(?:点[零〇一二两三四五六七八九]+)?)"
    rf"(?P<unit>\s?(?:{_alternation(_PIECE_UNITS + _OTHER_UNITS, glued=True)}))?"
    r"(?![0-9a-z])"
)
_CODE_RE = re.compile(r"(?<![0-9a-z])[0-9a-z]+(?:[-_/.][0-9a-z]+)*(?![0-9a-z])")
_PROPOSAL_RE = re.compile(r"(?<![0-9a-z])p([0-9]{1,9})(?![0-9a-z])")
_TIME_RE = re.compile(
    r"(?<![0-9])[0-9]{1,2}:[0-9]{2}(?![0-9])|(?<![0-9])[0-9]{1,2}\s?点(?:\s?[0-9]{1,2}\s?分|半)?"
)
_TEXT_RE = re.compile(r"[^\W_]+")

# ---------------------------------------------------------------------------------------------
# Dates and periods

_CN_SMALL_MONTH = "一二三四五六七八九十"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_DATE_RE = re.compile(
    r"(?P<ymd>(?<![0-9a-z])(?P<y>[0-9]{4})\s?[-/.年]\s?(?P<m>[0-9]{1,2})\s?[-/.月]\s?(?P<d>[0-9]{1,2})"
    r"(?:\s?[日号])?(?![0-9]))"
    r"|(?P<md>(?<![0-9a-z])(?P<m2>[0-9]{1,2})(?:\s?月(?P<d2>[0-9]{1,2})(?:[日号]|(?![0-9件个只套]))"
    r"|[-/](?P<d3>[0-9]{1,2})(?![0-9/.-])))"
    r"|(?P<dom>(?<![0-9a-z月])(?P<d4>[0-9]{1,2})\s?[日号](?!\s?[0-9]))"
    r"|(?P<wd>(?P<which>下|本|这)?(?:个)?(?:周|星期|礼拜)(?P<day>[一二三四五六日天]))"
    r"|(?P<rel>大后天|后天|明天|明日|今天|今日|day after tomorrow|tomorrow|today)"
)
_RELATIVE_DAYS = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "明天": 1,
    "明日": 1,
    "tomorrow": 1,
    "后天": 2,
    "day after tomorrow": 2,
    "大后天": 3,
}

_RELATIVE_PERIODS: dict[str, Callable[[date], Period]] = {}


def _relative(words: str, resolve: Callable[[date], Period]) -> None:
    for word in words.split("|"):
        _RELATIVE_PERIODS[word] = resolve


def _past(_: date) -> Period:
    raise ValueError("a period that is over")  # 上月 / last week: plans are for the future


_relative(
    "下下周|下下个星期|下下星期|下下个礼拜|week after next|the week after next",
    lambda day: next_week(next_week(day).start),
)
_relative(
    "下下月|下下个月|month after next|the month after next",
    lambda day: next_month(next_month(day).start),
)
_relative("下月|下个月|下一个月|下月份|next month", next_month)
_relative("本月|这个月|这月|当月|本月份|this month", month_of)
_relative("下周|下个星期|下星期|下礼拜|下个礼拜|下一周|下个周|next week", next_week)
_relative("本周|这周|这个星期|这星期|本星期|这礼拜|this week", week_of)
_relative("上月|上个月|上周|上个星期|上星期|last month|last week", _past)

_PERIOD_RE = re.compile(
    rf"(?P<rel>{_alternation(list(_RELATIVE_PERIODS))})"
    r"|(?P<yw>(?<![0-9])(?P<y>[0-9]{4})\s?-?\s?w\s?(?P<w>[0-9]{1,2})(?![0-9]))"
    r"|(?P<w_only>(?<![0-9a-z])(?:w|wk|week)\s?(?P<w2>[0-9]{1,2})(?![0-9a-z])"
    r"|第\s?(?P<w3>[0-9]{1,2})\s?周)"
    r"|(?P<ym>(?<![0-9])(?P<y2>[0-9]{4})\s?(?:[-/.]|年)\s?(?P<m>[0-9]{1,2})(?:\s?月份?)?(?![0-9]))"
    rf"|(?P<m_only>(?<![0-9])(?P<m2>[0-9]{{1,2}}|[{_CN_SMALL_MONTH}]{{1,3}})\s?月份?)"
)


def _closest_date(today: date, month: int, day: int) -> date | None:
    """M-D without a year: the date nearest today (so 01-03 in late December is next year)."""
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    return min(candidates, key=lambda d: abs((d - today).days), default=None)


def _read_date(match: re.Match[str], today: date) -> date | None:
    """The date a _DATE_RE match names, or None when there is no such day."""
    try:
        if match["ymd"]:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        if match["md"]:
            return _closest_date(today, int(match["m2"]), int(match["d2"] or match["d3"]))
        if match["dom"]:
            day = int(match["d4"])
            months = [month_of(today).start - timedelta(days=1), today, month_of(today).end]
            return min(
                (d for m in months if (d := _day_in_month(m, day))),
                key=lambda d: abs((d - today).days),
                default=None,
            )
        if match["wd"]:
            monday = week_of(today).start
            if match["which"] == "下":
                monday = next_week(today).start
            day = monday + timedelta(days=_WEEKDAYS[match["day"]])
            if not match["which"] and day < today:  # "周五" said on a Sunday: the coming one
                day += timedelta(days=7)
            return day
        return today + timedelta(days=_RELATIVE_DAYS[match["rel"]])
    except (ValueError, OverflowError):
        return None


def _day_in_month(day_in: date, day: int) -> date | None:
    try:
        return day_in.replace(day=day)
    except ValueError:
        return None


def _read_period(match: re.Match[str], today: date) -> Period | None:
    """The period a _PERIOD_RE match names, or None when it does not exist or is over."""
    try:
        if match["rel"]:
            return _RELATIVE_PERIODS[match["rel"]](today)
        iso_year, iso_week, _ = today.isocalendar()
        if match["yw"]:
            period = parse_period(f"{int(match['y']):04d}-W{int(match['w']):02d}")
        elif match["w_only"]:
            week = int(match["w2"] or match["w3"])
            year = iso_year if week >= iso_week else iso_year + 1
            period = parse_period(f"{year:04d}-W{week:02d}")
        elif match["ym"]:
            period = parse_period(f"{int(match['y2']):04d}-{int(match['m']):02d}")
        else:
            month = _month_number(match["m2"])
            year = today.year if month >= today.month else today.year + 1
            period = parse_period(f"{year:04d}-{month:02d}")
    except (ValueError, OverflowError, KeyError):
        return None
    return period if period.end > today else None


def _month_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    value = _chinese_int(text)
    if value is None:
        raise ValueError(text)
    return value


# ---------------------------------------------------------------------------------------------
# Numbers

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


def _chinese_int(text: str) -> int | None:
    """四十五 → 45, 一百二十 → 120, 两百 → 200, 十 → 10, 一万二 → 12000.

    None when the reading is not clear, e.g. digits read one by one (六二零五).
    """
    for char, size in (("亿", 10**8), ("万", 10**4)):
        if char in text:
            high, _, low = text.partition(char)
            high_value = _chinese_int(high) if high else None
            if not high_value:
                return None
            if not low:
                return high_value * size
            if low[0] in "零〇":
                low_value = _chinese_int(low[1:]) if low[1:] else None
            elif len(low) == 1 and low in _CN_DIGITS:
                low_value = _CN_DIGITS[low] * size // 10  # 一万二 = 12000, as people say it
            else:
                low_value = _chinese_int(low)
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
class _Number:
    """A number as typed: "−4.5件" is text "−4.5", value 4.5, negative, unit "件"."""

    text: str
    value: Decimal
    negative: bool
    unit: str
    odd_unit: bool  # a unit that is not pieces, e.g. 箱
    plain: bool  # ASCII digits only, no sign, unit or decimals: could be a part number
    after_equals: bool  # "6205=45" / "6205: 45": a quantity for sure


def _read_number(match: re.Match[str], units: frozenset[str], before: str) -> _Number | None:
    raw = match["value"]
    if digits := match["digits"]:
        # Never build a huge number from chat text: 40 digits is absurd enough.
        value = Decimal(digits.replace(",", "")) if len(digits) <= 40 else Decimal(10) ** 40
        value *= _SCALES.get(match["scale"] or "", 1)
    else:
        whole, _, fraction = raw.partition("点")
        whole_value = _chinese_int(whole)
        if whole_value is None:
            return None  # 六二零五 and the like: not a quantity
        digits = "".join(str(_CN_DIGITS[c]) for c in fraction)
        value = Decimal(f"{whole_value}.{digits}") if digits else Decimal(whole_value)
    unit = (match["unit"] or "").strip()
    sign = (match["sign"] or "").strip()
    return _Number(
        text=(sign + raw),
        value=value,
        negative=sign in ("-", "−", "负"),
        unit=unit,
        odd_unit=bool(unit) and unit not in units,
        plain=raw.isdigit() and raw.isascii() and not sign and not unit,
        after_equals=before.rstrip().endswith(("=", ":")),
    )


# ---------------------------------------------------------------------------------------------
# Scanning


@dataclass(frozen=True)
class _Tok:
    """A recognised piece of the message: where it is, what kind, what it means."""

    kind: str  # item code pid period date kw num text time
    start: int
    end: int
    text: str  # as typed
    value: object = None
    family: str = ""  # for keywords
    strong: bool = False


@dataclass(frozen=True)
class _Vocabulary:
    """One agreement's items as a regex: skus, aliases and names, longest first."""

    pattern: re.Pattern[str] | None
    skus: dict[str, str]
    units: frozenset[str]


def _vocabulary_of(items: Sequence[Item]) -> _Vocabulary:
    """The items' vocabulary, cached per agreement (items are frozen, so hashable)."""
    key = tuple(items)
    try:
        return _cached_vocabulary(key)
    except TypeError:  # an Item built with a list of aliases: fine, just not cacheable
        return _build_vocabulary(key)


@lru_cache(maxsize=64)
def _cached_vocabulary(items: tuple[Item, ...]) -> _Vocabulary:
    return _build_vocabulary(items)


def _build_vocabulary(items: tuple[Item, ...]) -> _Vocabulary:
    skus: dict[str, str] = {}
    for item in items:
        for name in (item.sku, *item.aliases, item.name):
            key = _lower(" ".join(unicodedata.normalize("NFKC", name).split()))
            if key:
                skus.setdefault(key, item.sku)  # a name shared by two items: the first one
    units = frozenset(_PIECE_UNITS) | {_lower(item.unit) for item in items if item.unit}
    pattern = re.compile(_alternation(list(skus))) if skus else None
    return _Vocabulary(pattern, skus, units)


class _Message:
    """The normalised message and its tokens, in order."""

    def __init__(self, text: str, items: Sequence[Item], today: date) -> None:
        self.raw = normalise(text)
        self._work = _lower(self.raw)
        self._taken: list[tuple[int, int]] = []
        self.tokens: list[_Tok] = []
        vocabulary = _vocabulary_of(items)
        if vocabulary.pattern is not None:
            self._take(vocabulary.pattern, "item", lambda m: vocabulary.skus[m.group()])
        self._take(_PROPOSAL_RE, "pid", lambda m: f"P{int(m[1])}")
        self._take(_DATE_RE, "date", lambda m: _read_date(m, today))
        self._take(_PERIOD_RE, "period", lambda m: _read_period(m, today))
        self._take_keywords()
        self._take(_TIME_RE, "time", lambda m: None)
        self._take_numbers(vocabulary.units)
        self._take(_CODE_RE, "code", lambda m: m.group(), keep=_is_code)
        for match in list(_TEXT_RE.finditer(self._work)):
            self._add("text", match.span(), None)
        self._mask()
        self.tokens.sort(key=lambda tok: tok.start)
        self._drop_old_values()
        self.question = "?" in self.raw or self.has("question")
        self.line_starts = [i for i, char in enumerate(self.raw) if char == "\n"]

    # -- building

    def _add(
        self,
        kind: str,
        span: tuple[int, int],
        value: object,
        family: str = "",
        strong: bool = False,
    ) -> None:
        start, end = span
        self.tokens.append(_Tok(kind, start, end, self.raw[start:end], value, family, strong))
        self._taken.append(span)

    def _mask(self) -> None:
        """Blank out what the last pass took, so later passes never read it again."""
        if self._taken:
            chars = list(self._work)
            for start, end in self._taken:
                chars[start:end] = "\x00" * (end - start)
            self._work = "".join(chars)
            self._taken.clear()

    def _take(
        self,
        pattern: re.Pattern[str],
        kind: str,
        read: Callable[[re.Match[str]], object],
        keep: Callable[[re.Match[str]], bool] = lambda m: True,
    ) -> None:
        for match in list(pattern.finditer(self._work)):
            if match.group() and keep(match):
                self._add(kind, match.span(), read(match))
        self._mask()

    def _take_keywords(self) -> None:
        for match in list(_KEYWORD_RE.finditer(self._work)):
            family, strong = _KEYWORDS[match.group()]
            self._add("kw", match.span(), None, family, strong)
        self._mask()
        # 查 alone is a query only at the start ("查 6205"); "我查一下" is chat.
        if self._work.startswith("查"):
            self._add("kw", (0, 1), None, "status", strong=True)
            self._mask()

    def _take_numbers(self, units: frozenset[str]) -> None:
        for match in list(_NUMBER_RE.finditer(self._work)):
            before = self._work[max(0, match.start() - 3) : match.start()]
            if not match["digits"] and not match["unit"] and _in_a_word(self._work, match):
                continue  # 一切, 统一, 第一: words, not quantities
            number = _read_number(match, units, before)
            if number is not None:
                self._add("num", match.span(), number)
        self._mask()

    def _drop_old_values(self) -> None:
        """Old numbers are no quantities: "从90改为120", "90 改成 120", "120 instead of 90"."""
        significant = [tok for tok in self.tokens if tok.family != "filler"]
        old: set[int] = set()
        for index, tok in enumerate(significant):
            if tok.kind != "num":
                continue
            before = significant[index - 1] if index else None
            after = significant[index + 1 : index + 3]
            after_was = before is not None and before.family == "was"
            before_change = [t.kind for t in after] == ["kw", "num"] and after[0].family == "adjust"
            if after_was or before_change:
                old.add(tok.start)
        self.tokens = [
            replace(tok, kind="old") if tok.kind == "num" and tok.start in old else tok
            for tok in self.tokens
        ]

    # -- reading

    def of(self, *kinds: str) -> list[_Tok]:
        """The tokens of these kinds, in order."""
        return [tok for tok in self.tokens if tok.kind in kinds]

    def has(self, family: str, strong_only: bool = False) -> bool:
        """Whether a keyword of this family is present."""
        return any(
            tok.kind == "kw" and tok.family == family and (tok.strong or not strong_only)
            for tok in self.tokens
        )

    @property
    def families(self) -> set[str]:
        """The intent families named by keywords (not fillers, yes-words or question words)."""
        return {
            tok.family
            for tok in self.tokens
            if tok.kind == "kw" and tok.family not in ("filler", "yes", "question", "was")
        }

    @property
    def has_data(self) -> bool:
        """Items, part numbers, quantities, proposal ids or periods: something to act on."""
        return bool(self.of("item", "code", "num", "pid", "period"))

    def vague(self, family: str) -> bool:
        """True when the message only mentions the family in passing: chat, not a command.

        "库存管理真麻烦" and "收到" are chat; "库存" and "确认" alone are half-typed commands.
        """
        if self.has_data:
            return False
        # A date without data is talk about a day: "明天盘点" announces tomorrow's stocktake.
        return bool(self.of("text", "date")) or not self.has(family, strong_only=True)


def _is_ideograph(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _in_a_word(work: str, match: re.Match[str]) -> bool:
    """Chinese numerals glued to other Chinese text are part of a word (一切, 统一, 第一)."""
    start, end = match.span("value")
    return (start > 0 and _is_ideograph(work[start - 1])) or (
        end < len(work) and _is_ideograph(work[end])
    )


def _is_code(match: re.Match[str]) -> bool:
    """A part-number-like token: letters and digits together (BRG-8, 6299A)."""
    text = match.group()
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


# ---------------------------------------------------------------------------------------------
# Deciding


def parse(text: str, items: Sequence[Item], today: date) -> Intent | Refusal:
    """Read one chat message: the intent it states, or a Refusal saying why not.

    `items` are the agreement's items (matched by sku, alias or name, case-insensitively);
    `today` is the date in the agreement's time zone, for 下月 / next week / 明天.
    Never raises.
    """
    message = _Message(text, items, today)
    if not message.raw:
        return Refusal("not_understood")
    return _decide(message, today)


# When several action words meet, the more specific wins:
# 确认收货 is a receipt, 确认发货 a shipment.
_ACTIONS: tuple[Action | Literal["receipt"], ...] = (
    "reject",
    "ship",
    "receipt",
    "adjust",
    "confirm",
)


def _decide(msg: _Message, today: date) -> Intent | Refusal:
    """The intent, by the strongest signal first: a proposal id, then the intent words."""
    families = msg.families
    if msg.of("pid"):
        return _proposal(msg, today)
    if "emergency" in families:
        return _demand(msg, Emergency, "emergency")
    if "plan" in families:
        return _demand(msg, Plan, "plan")
    if "status" in families:
        return _status(msg, "status")
    if "withdrawal" in families:
        return _withdrawal(msg, today)
    if "correction" in families:
        return _item_lines(msg, Correction, "correction", allow_zero=True)
    if "count" in families:
        return _count(msg, today)
    if msg.of("period"):
        return _demand(msg, Plan, "plan")
    for action in _ACTIONS:
        if action in families:
            # "6205 入库 50" without a proposal id: say which id is needed.
            return Refusal("not_understood") if msg.vague(action) else _ambiguous(msg, action)
    if "review" in families:
        if msg.vague("review") or msg.of("num", "code"):
            return Refusal("not_understood")
        items = _skus(msg)
        return Status(items[0]) if len(items) == 1 else ReviewNow()
    if "help" in families:
        return Refusal("not_understood") if msg.vague("help") or msg.has_data else Help()
    return _no_keyword(msg)


def _ambiguous(msg: _Message, hint: str) -> Refusal:
    detail = " ".join(tok.text for tok in msg.of("item", "pid"))
    return Refusal("ambiguous", detail=detail, hint=hint)


def _skus(msg: _Message) -> list[str]:
    """The distinct items named, in order."""
    return list(dict.fromkeys(str(tok.value) for tok in msg.of("item")))


def _asks(msg: _Message) -> bool:
    return msg.question or msg.has("status") or msg.has("review")


def _quantities(msg: _Message) -> list[_Tok]:
    """Numbers that can only be quantities ("6299 库存?" has a part number, not a quantity)."""
    return [tok for tok in msg.of("num") if not _maybe_part_number(tok)]


def _no_keyword(msg: _Message) -> Intent | Refusal:
    """No intent word: "6205 45" lines are a count, "6205" alone a question, "?" help."""
    if msg.of("num") and (msg.of("item") or msg.of("code") or _numeric_codes(msg)):
        # Only clean lines: "6205 was late by 45 minutes" is chat, not a count.
        numbered = {_line_of(msg, tok) for tok in msg.of("num")}
        if any(_line_of(msg, tok) in numbered for tok in msg.of("text")):
            return Refusal("not_understood")
        return _item_lines(msg, Count, "count", allow_zero=True)
    if msg.of("num"):
        return Refusal("not_understood")
    if msg.of("item"):
        return _status(msg, "status")
    if msg.of("code") and msg.question and not msg.of("text"):
        return Refusal("unknown_item", detail=msg.of("code")[0].text, hint="status")
    if msg.question and not msg.tokens:
        return Help()  # "?" alone
    return Refusal("not_understood")


def _numeric_codes(msg: _Message) -> list[_Tok]:
    return [tok for tok in msg.of("num") if _maybe_part_number(tok)]


def _line_of(msg: _Message, tok: _Tok) -> int:
    return bisect_right(msg.line_starts, tok.start)


# ---------------------------------------------------------------------------------------------
# Items with quantities


@dataclass
class _Pairing:
    pairs: list[tuple[_Tok, _Tok]]  # (item, code or text; number)
    strays: list[_Tok]  # numbers with no item
    orphans: list[_Tok]  # items or codes with no number


def _maybe_part_number(tok: _Tok) -> bool:
    number = tok.value
    assert isinstance(number, _Number)
    return number.plain and len(number.text) >= 3 and not number.after_equals


def _pair(msg: _Message) -> _Pairing:
    """Pair each item with the number after it: "6205 45 6206 30", "库存 6205=45, 6206=30".

    A plain number of three or more digits followed by another number is an unknown part
    number ("6299 45"); text followed by a number is an unknown item name ("滚子轴承 45").
    """
    sequence = msg.of("item", "code", "num", "text")
    result = _Pairing([], [], [])
    subject: _Tok | None = None
    for index, tok in enumerate(sequence):
        following = sequence[index + 1] if index + 1 < len(sequence) else None
        if tok.kind == "num" and subject is None and _is_numeric_code(tok, following):
            tok = _Tok("code", tok.start, tok.end, tok.text, tok.text)
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
        elif subject is None:
            result.strays.append(tok)
        else:
            result.pairs.append((subject, tok))
            subject = None
    if subject is not None and subject.kind != "text":
        result.orphans.append(subject)
    if not result.pairs and len(result.strays) == 1 and len(result.orphans) == 1:
        # "领用10件6205": one number before one item.
        result = _Pairing([(result.orphans[0], result.strays[0])], [], [])
    return result


def _is_numeric_code(tok: _Tok, following: _Tok | None) -> bool:
    if not _maybe_part_number(tok) or following is None:
        return False
    return following.kind == "num" or (following.kind == "text" and following.start == tok.end)


def _quantity(tok: _Tok, hint: str, allow_zero: bool) -> int | Refusal:
    """A whole, positive (or zero, for counts and plans), sane quantity, or why not."""
    number = tok.value
    assert isinstance(number, _Number)
    if number.negative and number.value != 0:
        return Refusal("bad_quantity", detail=number.text, hint=hint)
    if number.value > MAX_QTY:
        return Refusal("too_large", detail=number.text, hint=hint)
    if number.value != number.value.to_integral_value():
        return Refusal("fraction", detail=number.text, hint=hint)
    if number.value == 0 and not allow_zero:
        return Refusal("bad_quantity", detail=number.text, hint=hint)
    if number.odd_unit:
        return Refusal("ambiguous", detail=number.text + number.unit, hint=hint)
    return int(number.value)


def _item_quantities(msg: _Message, hint: str, allow_zero: bool) -> list[tuple[str, int]] | Refusal:
    """The (sku, qty) pairs of the message, or the first problem found, most telling first."""
    pairing = _pair(msg)
    for subject, _ in pairing.pairs:
        if subject.kind != "item":
            return Refusal("unknown_item", detail=subject.text, hint=hint)
    for orphan in pairing.orphans:
        if orphan.kind == "code":
            return Refusal("unknown_item", detail=orphan.text, hint=hint)
    lines: list[tuple[str, int]] = []
    for subject, number in pairing.pairs:
        qty = _quantity(number, hint, allow_zero)
        if isinstance(qty, Refusal):
            return qty
        lines.append((str(subject.value), qty))
    if pairing.orphans:  # "库存 6205": how many?
        return Refusal("ambiguous", detail=pairing.orphans[0].text, hint=hint)
    if pairing.strays or not lines:  # "库存 45": of what?
        detail = pairing.strays[0].text if pairing.strays else ""
        return Refusal("ambiguous", detail=detail, hint=hint)
    skus = [sku for sku, _ in lines]
    if len(set(skus)) != len(skus):  # "6205 45, 6205 50": which one?
        duplicate = next(sku for sku in skus if skus.count(sku) > 1)
        return Refusal("ambiguous", detail=duplicate, hint=hint)
    return lines


def _item_lines(
    msg: _Message,
    make: type[Count] | type[Correction] | type[Withdrawal],
    hint: str,
    allow_zero: bool,
) -> Intent | Refusal:
    lines = _item_quantities(msg, hint, allow_zero)
    if isinstance(lines, Refusal):
        return lines
    return make(tuple(ItemQty(sku, qty) for sku, qty in lines))


def _count(msg: _Message, today: date) -> Intent | Refusal:
    """库存 / 盘点 / stock, one or several items; "6205 库存?" is a question instead."""
    if msg.vague("count"):
        return Refusal("not_understood")
    if _asks(msg) and not _quantities(msg):
        return _status(msg, "count")
    if _periods_other_than_now(msg, today):
        return Refusal("ambiguous", detail=msg.of("period")[0].text, hint="count")
    return _item_lines(msg, Count, "count", allow_zero=True)


def _withdrawal(msg: _Message, today: date) -> Intent | Refusal:
    """领用 / used. With a future period it is a plan (下周 6205 领用 20)."""
    if msg.vague("withdrawal"):
        return Refusal("not_understood")
    if _asks(msg) and not _quantities(msg):
        return _status(msg, "withdrawal")
    periods = [tok.value for tok in msg.of("period")]
    if periods and all(isinstance(p, Period) and p.start > today for p in periods):
        return _demand(msg, Plan, "plan")
    if periods:
        # "本月领用 85": a month's total, not a new withdrawal; recording it would double count.
        return Refusal("ambiguous", detail=msg.of("period")[0].text, hint="withdrawal")
    return _item_lines(msg, Withdrawal, "withdrawal", allow_zero=False)


def _periods_other_than_now(msg: _Message, today: date) -> bool:
    """A count is for today: "本月盘点" is fine, "下月 6205 库存 45" is not a count."""
    return any(
        not (isinstance(tok.value, Period) and today in tok.value) for tok in msg.of("period")
    )


def _status(msg: _Message, hint: str) -> Intent | Refusal:
    """状态 / status / 6205 库存? — for one item when exactly one is named, else all."""
    if hint == "status" and msg.vague("status"):
        return Refusal("not_understood")
    skus = _skus(msg)
    if not skus:
        codes = msg.of("code") + _numeric_codes(msg)
        if codes:
            return Refusal("unknown_item", detail=codes[0].text, hint="status")
    return Status(skus[0] if len(skus) == 1 else None)


def _demand(msg: _Message, make: type[Plan] | type[Emergency], hint: str) -> Intent | Refusal:
    """A plan or an emergency change: one item, one period, one quantity."""
    if msg.vague(hint):
        return Refusal("not_understood")
    if _asks(msg) and not _quantities(msg):
        return _status(msg, hint)
    lines = _item_quantities(msg, hint, allow_zero=True)  # a plan of 0 is "no demand"
    if isinstance(lines, Refusal) and lines.reason != "ambiguous":
        return lines
    period_toks = msg.of("period")
    for tok in period_toks:
        if tok.value is None:
            return Refusal("bad_period", detail=tok.text, hint=hint)
    if isinstance(lines, Refusal):
        return lines
    periods = list(dict.fromkeys(tok.value for tok in period_toks))
    if len(periods) != 1:  # "6205 需求 90": for when?
        detail = " ".join(tok.text for tok in period_toks)
        return Refusal("ambiguous", detail=detail, hint=hint)
    if len(lines) != 1:  # one item per plan line; the reply says so
        return Refusal("ambiguous", detail=" ".join(sku for sku, _ in lines), hint=hint)
    (sku, qty), period = lines[0], periods[0]
    assert isinstance(period, Period)
    return make(sku=sku, period=period, qty=qty)


# ---------------------------------------------------------------------------------------------
# Proposals


def _proposal(msg: _Message, today: date) -> Intent | Refusal:
    """确认 / 调整 / 拒绝 / 发货 / 入库 + P1."""
    families = msg.families
    action = next((a for a in _ACTIONS if a in families), None)
    if action is None and msg.has("yes"):
        action = "confirm"  # "ok P1", "好的 P1"
    ids = list(dict.fromkeys(str(tok.value) for tok in msg.of("pid")))
    if action is not None and msg.of("item") and families & {"count", "withdrawal"}:
        # "P1 入库后 6205 库存 95": the 95 is a count, not a partial receipt.
        return Refusal("ambiguous", detail=" ".join(ids), hint=action)
    if action is None:
        if _asks(msg):
            return Status(None)  # "P1?", "P1 状态": the status lists open proposals
        return Refusal("ambiguous", detail=" ".join(ids), hint="proposal")
    if len(ids) > 1:
        return Refusal("ambiguous", detail=" ".join(ids), hint=action)
    proposal_id = ids[0]
    if action == "reject":
        return ProposalAction("reject", proposal_id, reason=_reason(msg))
    numbers = msg.of("num")
    eta: date | None = None
    if action == "ship":
        eta_or_refusal = _eta(msg, numbers, today)
        if isinstance(eta_or_refusal, Refusal):
            return eta_or_refusal
        eta, numbers = eta_or_refusal
    if len(numbers) > 1:
        return Refusal("ambiguous", detail=" ".join(tok.text for tok in numbers), hint=action)
    qty: int | None = None
    if numbers:
        qty_or_refusal = _quantity(numbers[0], action, allow_zero=False)
        if isinstance(qty_or_refusal, Refusal):
            return qty_or_refusal
        qty = qty_or_refusal
    if action == "receipt":
        return Receipt(proposal_id, qty)
    if action == "ship":
        return ProposalAction("ship", proposal_id, qty=qty, eta=eta)
    if action == "confirm" and qty is not None:
        # "确认 P1 60": confirm at 60, which is what an adjustment is (adjusted, then confirmed).
        action = "adjust"
    if action == "adjust" and qty is None:
        return Refusal("ambiguous", detail=proposal_id, hint="adjust")  # adjust P1 to what?
    return ProposalAction(action, proposal_id, qty=qty)


_DOTTED_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})")


def _eta(
    msg: _Message, numbers: list[_Tok], today: date
) -> tuple[date | None, list[_Tok]] | Refusal:
    """The expected arrival named in a shipment: 预计 11-25, eta 2026-11-25, 明天, 11.25."""
    dates = [tok for tok in msg.of("date") if tok.text.lower() not in ("今天", "今日", "today")]
    rest = []
    for tok in numbers:
        # "预计 11.25" is a date, not 11.25 pieces.
        if (match := _DOTTED_DATE.fullmatch(tok.text)) and (
            day := _closest_date(today, int(match[1]), int(match[2]))
        ):
            dates.append(_Tok("date", tok.start, tok.end, tok.text, day))
        else:
            rest.append(tok)
    for tok in dates:
        if tok.value is None:
            return Refusal("bad_period", detail=tok.text, hint="ship")
    days = list(dict.fromkeys(tok.value for tok in dates))
    if len(days) > 1:
        return Refusal("ambiguous", detail=" ".join(tok.text for tok in dates), hint="ship")
    eta = days[0] if days else None
    assert eta is None or isinstance(eta, date)
    return eta, rest


_REASON_PREFIX = re.compile(r"^(?:原因|理由|因为|reason|because)\s*[:,]?\s*(?=\S)", re.IGNORECASE)
_EDGE = " \t\n,.;:!?、。()[]{}【】<>\"'-~·"


def _reason(msg: _Message) -> str:
    """The words after "拒绝 P1" (or before, if nothing follows), as typed."""
    verb = next(tok for tok in msg.tokens if tok.kind == "kw" and tok.family == "reject")
    pid = msg.of("pid")[0]
    after = msg.raw[max(verb.end, pid.end) :].strip(_EDGE)
    text = after or msg.raw[: min(verb.start, pid.start)].strip(_EDGE)
    text = _REASON_PREFIX.sub("", text).lstrip("了吧").strip(_EDGE)
    return text
