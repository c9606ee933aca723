"""The readers: which intent a scanned message states, and that intent's reader, which pairs
items with quantities and checks them. `parse` is the parser's one entry point."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from handlers.parsing.amendments import read_amendment
from handlers.parsing.dates import closest_date
from handlers.parsing.normalise import normalise
from handlers.parsing.numbers import Number
from handlers.parsing.overstock import read_overstock
from handlers.parsing.pages import read_page
from handlers.parsing.parsed import (
    MAX_QTY,
    MAX_TEXT,
    Action,
    ConfirmCount,
    Correction,
    CorrectReceipt,
    Count,
    Courtesy,
    Emergency,
    Help,
    History,
    Intent,
    ItemQty,
    Plan,
    ProposalAction,
    Receipt,
    Refusal,
    Retro,
    ReviewNow,
    Status,
    Suggest,
    Todo,
    Undo,
    Withdrawal,
)
from handlers.parsing.sheet import read_sheet_command
from handlers.parsing.simulate import read_simulate
from handlers.parsing.statements import read_statement
from handlers.parsing.tokens import Message, Tok
from handlers.parsing.vocabulary import TODAY
from vmi_rules.periods import Period, month_of
from vmi_rules.terms import Item

# ---------------------------------------------------------------------------------------------
# Deciding


def parse(text: str, items: Sequence[Item], today: date) -> Intent | Refusal:
    """Read one chat message: the intent it states, or a Refusal saying why not.

    `items` are the agreement's items (matched by sku, alias or name, case-insensitively);
    `today` is the date in the agreement's time zone, for 下月 / next week / 明天.
    A text over MAX_TEXT characters is not read at all (detail: its length). Never raises.
    """
    if len(text) > MAX_TEXT:
        return Refusal("too_long", detail=f"{len(text):,}")
    # as typed first, so a dispute's reason is kept as written; else NFKC (Ｓ３, full-width)
    about_statement = read_statement(text.strip()) or read_statement(normalise(text))
    if about_statement is not None:
        return about_statement
    sheet = read_sheet_command(text)  # 导出, 确认导入: the shared sheet's own phrases
    if sheet is not None:
        return sheet
    overstock = read_overstock(text)  # "退货 O1 20": an alert id with a choice word
    if overstock is not None:
        return overstock
    page = read_page(text)  # "表格", "总览": the whole message
    if page is not None:
        return page
    what_if = read_simulate(text, items)  # 模拟 6205 补货线 40: its min/max words are its own
    if what_if is not None:
        return what_if
    amendment = read_amendment(text, items)  # its words mean other things beside a P-id
    if amendment is not None:
        return amendment
    message = Message(text, items, today)
    if not message.raw:
        return Refusal("not_understood")
    return _decide(message, today)


# When several action words meet, the more specific wins:
# 确认收货 is a receipt, 确认发货 a shipment.
_ACTIONS: tuple[Action | Literal["receipt"], ...] = (
    "decline",
    "cancel",
    "reject",
    "ship",
    "receipt",
    "adjust",
    "confirm",
)


def _decide(msg: Message, today: date) -> Intent | Refusal:
    """The intent, by the strongest signal first: a proposal id, then the intent words."""
    families = msg.families
    if msg.of("pid"):
        return _proposal(msg, today)
    if _courtesy(msg):
        return Courtesy(agrees=msg.has("yes"))
    if "retro" in families and not msg.of("item", "num", "code"):
        return _retro(msg, today)
    if "suggest" in families and not _quantities(msg) and not msg.of("period"):
        if codes := msg.of("code", "num"):  # "建议 6299": no such item here
            return Refusal("unknown_item", detail=codes[0].text)
        items = _skus(msg)  # "建议 6205": one item; "建议" (or several): every item
        return Suggest(items[0]) if len(items) == 1 else Suggest()
    if "emergency" in families:
        return _demand(msg, Emergency, "emergency")
    if "plan" in families:
        return _demand(msg, Plan, "plan")
    if "undo" in families:  # "撤销": the last entry, whatever data a reader of it names
        return Refusal("not_understood") if msg.of("num", "pid", "period", "code") else Undo()
    if "todo" in families and not msg.of("item"):
        return Todo()  # "待确认", "what's pending": before status, which "what's" also names
    if "status" in families:
        return _status(msg, "status")
    if "withdrawal" in families:
        return _withdrawal(msg, today)
    if "correction" in families:
        return _item_lines(msg, Correction, "correction", allow_zero=True)
    if families == {"confirm", "count"} and not msg.of("num", "pid", "period", "code"):
        items = _skus(msg)  # "确认盘点", "confirm count 6205": a held count was right
        return ConfirmCount(items[0] if len(items) == 1 else None)
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
    return _no_keyword(msg, today)


def _retro(msg: Message, today: date) -> Retro | Refusal:
    """复盘, 复盘 2026-11, 复盘 11月, review last month: a month, past or running (a review
    looks back, so "11月" is the latest November, not the next)."""
    named = msg.of("period")
    if not named:
        return Retro()
    text = " ".join(tok.text for tok in named).strip().lower()
    month = _month_looked_back(text, today)
    return Retro(month) if len(named) == 1 and month else Refusal("bad_month", detail=text)


def _month_looked_back(text: str, today: date) -> str | None:
    """The month `text` names, counted back from today; None for anything but a month."""
    if text in ("本月", "这个月", "this month"):
        return month_of(today).label
    if text in ("上月", "上个月", "last month"):
        return month_of(month_of(today).start - timedelta(days=1)).label
    if match := re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?", text):
        year, number = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"(\d{1,2})\s*月份?", text):
        number = int(match[1])
        year = today.year if number <= today.month else today.year - 1
    else:
        return None
    return f"{year:04d}-{number:02d}" if 1 <= number <= 12 else None


def _courtesy(msg: Message) -> bool:
    """谢谢, 好的, 收到, ok 👍: manners with nothing to act on (no data, no question, no
    command word but the weak ones that are everyday chat)."""
    if msg.has_data or msg.question:
        return False
    if not msg.tokens:  # "👍", "🙏": symbols only
        return not any(unicodedata.category(c)[0] in "LN" for c in msg.raw)
    for tok in msg.tokens:
        if tok.kind == "text" and any(unicodedata.category(c)[0] in "LN" for c in tok.text):
            return False  # words of its own: chat the bot does not know, not manners
        if tok.kind == "kw" and tok.strong and tok.family not in ("thanks", "yes", "filler"):
            return False
        if tok.kind not in ("kw", "text"):
            return False
    return True


def _ambiguous(msg: Message, hint: str) -> Refusal:
    detail = " ".join(tok.text for tok in msg.of("item", "pid"))
    return Refusal("ambiguous", detail=detail, hint=hint, missing="proposal_id")


def _skus(msg: Message) -> list[str]:
    """The distinct items named, in order."""
    return list(dict.fromkeys(str(tok.value) for tok in msg.of("item")))


def _asks(msg: Message) -> bool:
    return msg.question or msg.has("status") or msg.has("review")


def _quantities(msg: Message) -> list[Tok]:
    """Numbers that can only be quantities ("6299 库存?" has a part number, not a quantity)."""
    return [tok for tok in msg.of("num") if not _maybe_part_number(tok)]


def _no_keyword(msg: Message, today: date) -> Intent | Refusal:
    """No intent word: "6205 45" lines are a count, "6205" alone a question, "?" help."""
    if msg.of("num") and (msg.of("item") or msg.of("code") or _numeric_codes(msg)):
        # Only clean lines: "6205 was late by 45 minutes" is chat, not a count.
        numbered = {_line_of(msg, tok) for tok in msg.of("num")}
        if any(_line_of(msg, tok) in numbered for tok in msg.of("text")):
            return Refusal("not_understood")
        return _item_lines(msg, Count, "count", allow_zero=True, today=today)
    if msg.of("num"):
        return Refusal("not_understood")
    if msg.of("item"):
        return _status(msg, "status")
    if msg.of("code") and msg.question and not msg.of("text"):
        return Refusal("unknown_item", detail=msg.of("code")[0].text, hint="status")
    if msg.question and not msg.tokens:
        return Help()  # "?" alone
    return Refusal("not_understood")


def _numeric_codes(msg: Message) -> list[Tok]:
    return [tok for tok in msg.of("num") if _maybe_part_number(tok)]


def _line_of(msg: Message, tok: Tok) -> int:
    return bisect_right(msg.line_starts, tok.start)


# ---------------------------------------------------------------------------------------------
# Items with quantities


@dataclass
class _Pairing:
    pairs: list[tuple[Tok, Tok]]  # (item, code or text; number)
    strays: list[Tok]  # numbers with no item
    orphans: list[Tok]  # items or codes with no number
    remarks: list[Tok] = field(default_factory=list)  # words after a line's count, with a number


def _maybe_part_number(tok: Tok) -> bool:
    number = tok.value
    assert isinstance(number, Number)
    return number.plain and len(number.text) >= 3 and not number.after_equals


def _pair(msg: Message) -> _Pairing:
    """Pair each item with the number after it: "6205 45 6206 30", "库存 6205=45, 6206=30".

    A plain number of three or more digits followed by another number is an unknown part
    number ("6299 45"); text followed by a number is an unknown item name ("滚子轴承 45").
    """
    sequence = _without_row_numbers(msg, msg.of("item", "code", "num", "text"))
    result = _Pairing([], [], [])
    subject: Tok | None = None
    paired_on = -1  # the line of the last pair: Chinese words after it are a remark
    remarks_at: set[int] = set()
    for index, tok in enumerate(sequence):
        following = sequence[index + 1] if index + 1 < len(sequence) else None
        line = _line_of(msg, tok)
        if subject is not None and subject.kind == "text" and _line_of(msg, subject) != line:
            subject = None  # a header or title row names no item of the rows below it
        if tok.kind == "num" and subject is None and _is_numeric_code(tok, following):
            tok = Tok("code", tok.start, tok.end, tok.text, tok.text)
        remark = tok.kind == "text" and subject is None and line == paired_on and _chinese(tok.text)
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
        result = _Pairing([(result.orphans[0], result.strays[0])], [], [])
    return result


def _chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def _without_row_numbers(msg: Message, sequence: list[Tok]) -> list[Tok]:
    """A sheet's 序号 column goes: "1\t6205\t45" is row 1, item 6205, 45 on the shelf.

    A small number first on its line, followed on that line by an item or code and a number.
    """
    kept: list[Tok] = []
    for index, tok in enumerate(sequence):
        rest = sequence[index + 1 : index + 3]
        line = _line_of(msg, tok)
        if (
            tok.kind == "num"
            and tok.text.isdigit()
            and len(tok.text) <= 3
            and (index == 0 or _line_of(msg, sequence[index - 1]) != line)
            and [t.kind for t in rest] in (["item", "num"], ["code", "num"])
            and all(_line_of(msg, t) == line for t in rest)
        ):
            continue  # the row's number, not a quantity
        kept.append(tok)
    return kept


def _is_numeric_code(tok: Tok, following: Tok | None) -> bool:
    if not _maybe_part_number(tok) or following is None:
        return False
    return following.kind == "num" or (following.kind == "text" and following.start == tok.end)


def _quantity(tok: Tok, hint: str, allow_zero: bool) -> int | Refusal:
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


def _item_quantities(msg: Message, hint: str, allow_zero: bool) -> list[tuple[str, int]] | Refusal:
    """The (sku, qty) pairs of the message, or the first problem found, most telling first."""
    pairing = _pair(msg)
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
        qty = _quantity(number, hint, allow_zero)
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


def _item_lines(
    msg: Message,
    make: type[Count] | type[Correction] | type[Withdrawal],
    hint: str,
    allow_zero: bool,
    today: date | None = None,
) -> Intent | Refusal:
    doubt = _doubt(msg, hint)
    if doubt is not None:
        return doubt
    lines = _item_quantities(msg, hint, allow_zero)
    if isinstance(lines, Refusal):
        return lines
    rows = tuple(ItemQty(sku, qty) for sku, qty in lines)
    if make is Correction or today is None:
        return make(rows)  # a correction puts the latest count right: it has no day of its own
    on = _day_named(msg, hint, today)
    if isinstance(on, Refusal):
        return on
    return Count(rows, on=on) if make is Count else Withdrawal(rows, on=on)


def _doubt(msg: Message, hint: str) -> Intent | Refusal | None:
    """A question about an item is answered, not recorded ("6205 库存 45?", "6205 库存是45吗");
    a guess is not recorded either ("约 40", "40 左右", "老王说…", "about 40")."""
    if msg.question:
        answer = _status(msg, "status")
        if isinstance(answer, Status) and _quantities(msg):  # a figure asked about, not said
            return replace(answer, entry_asked=True)
        return answer
    guess = next((tok for tok in msg.tokens if tok.kind == "kw" and tok.family == "guess"), None)
    if guess is not None:
        skus = _skus(msg)
        return Refusal("approximate", detail=guess.text, hint=hint, sku=skus[0] if skus else "")
    return None


def _day_named(msg: Message, hint: str, today: date) -> date | Refusal | None:
    """The day a count or withdrawal names ("昨天", "11-30"), None for today; a future day, a
    day that does not exist or two different days are refused."""
    dates = [tok for tok in msg.of("date") if tok.text.lower() not in TODAY]
    for tok in dates:
        if not isinstance(tok.value, date):
            return Refusal("bad_period", detail=tok.text, hint=hint)
    days = list(dict.fromkeys(tok.value for tok in dates))
    if len(days) > 1:
        detail = " ".join(tok.text for tok in dates)
        return Refusal("ambiguous", detail=detail, hint=hint, missing="date")
    if not days:
        return None
    day = days[0]
    assert isinstance(day, date)
    if day > today:
        return Refusal("future_date", detail=dates[0].text, hint=hint)
    return None if day == today else day


def _count(msg: Message, today: date) -> Intent | Refusal:
    """库存 / 盘点 / stock, one or several items; "6205 库存?" is a question instead."""
    if msg.vague("count"):
        return Refusal("not_understood")
    if _asks(msg) and not _quantities(msg):
        return _status(msg, "count")
    if _periods_other_than_now(msg, today):
        return Refusal("ambiguous", detail=msg.of("period")[0].text, hint="count",
                       missing="period")  # fmt: skip
    return _item_lines(msg, Count, "count", allow_zero=True, today=today)


def _withdrawal(msg: Message, today: date) -> Intent | Refusal:
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
        return Refusal("ambiguous", detail=msg.of("period")[0].text, hint="withdrawal",
                       missing="period")  # fmt: skip
    return _item_lines(msg, Withdrawal, "withdrawal", allow_zero=False, today=today)


def _periods_other_than_now(msg: Message, today: date) -> bool:
    """A count is for today: "本月盘点" is fine, "下月 6205 库存 45" is not a count."""
    return any(
        not (isinstance(tok.value, Period) and today in tok.value) for tok in msg.of("period")
    )


def _status(msg: Message, hint: str) -> Intent | Refusal:
    """状态 / status / 6205 库存? — for one item when exactly one is named, else all."""
    if hint == "status" and msg.vague("status"):
        return Refusal("not_understood")
    skus = _skus(msg)
    if not skus:
        codes = msg.of("code") + _numeric_codes(msg)
        if codes:
            return Refusal("unknown_item", detail=codes[0].text, hint="status")
    return Status(skus[0] if len(skus) == 1 else None)


def _demand(msg: Message, make: type[Plan] | type[Emergency], hint: str) -> Intent | Refusal:
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


def _proposal(msg: Message, today: date) -> Intent | Refusal:
    """确认 / 调整 / 拒绝 / 发货 / 入库 / 无法供货 / 取消 + P1, and "P1 预计 12-05"."""
    families = msg.families
    action = next((a for a in _ACTIONS if a in families), None)
    if action is None and msg.has("yes"):
        action = "confirm"  # "ok P1", "好的 P1"
    if action is None and families & {"eta", "plan"} and not msg.of("item") and not _asks(msg):
        action = "eta"  # "P1 预计 12-05", "P1 eta 12-05": the goods now arrive then
    ids = list(dict.fromkeys(str(tok.value) for tok in msg.of("pid")))
    if action is not None and msg.of("item") and families & {"count", "withdrawal"}:
        # "P1 入库后 6205 库存 95": the 95 is a count, not a partial receipt.
        return Refusal("ambiguous", detail=" ".join(ids), hint=action)
    if action is None:
        if len(ids) == 1 and not msg.of("item", "num"):
            return History(ids[0])  # "P1", "P1到哪了", "P1 status": where it is, step by step
        if _asks(msg):
            return Status(None)  # "P1 P2?": the status lists the open proposals
        return Refusal("ambiguous", detail=" ".join(ids), hint="proposal")
    if len(ids) > 1:
        return Refusal("ambiguous", detail=" ".join(ids), hint=action)
    proposal_id = ids[0]
    if action in ("reject", "decline", "cancel"):
        return ProposalAction(action, proposal_id, reason=_reason(msg))
    numbers = msg.of("num")
    eta: date | None = None
    if action in ("ship", "eta"):
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
    if action == "eta":
        if eta is None or qty is not None:
            return Refusal("ambiguous", detail=proposal_id, hint="eta")  # when, then?
        return ProposalAction("eta", proposal_id, eta=eta)
    if action == "receipt" and "correction" in families:  # 更正入库 P3 25: what really came
        if qty is None:
            return Refusal("ambiguous", detail=proposal_id, hint="correct_receipt", missing="qty")
        return CorrectReceipt(proposal_id, qty)
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


def _eta(msg: Message, numbers: list[Tok], today: date) -> tuple[date | None, list[Tok]] | Refusal:
    """The expected arrival named in a shipment: 预计 11-25, eta 2026-11-25, 明天, 11.25."""
    dates = [tok for tok in msg.of("date") if tok.text.lower() not in TODAY]
    rest = []
    for tok in numbers:
        # "预计 11.25" is a date, not 11.25 pieces.
        if (match := _DOTTED_DATE.fullmatch(tok.text)) and (
            day := closest_date(today, int(match[1]), int(match[2]))
        ):
            dates.append(Tok("date", tok.start, tok.end, tok.text, day))
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


def _reason(msg: Message) -> str:
    """The words after "拒绝 P1" (or before, if nothing follows), as typed."""
    verb = next(
        tok
        for tok in msg.tokens
        if tok.kind == "kw" and tok.family in ("reject", "decline", "cancel")
    )
    pid = msg.of("pid")[0]
    after = msg.raw[max(verb.end, pid.end) :].strip(_EDGE)
    text = after or msg.raw[: min(verb.start, pid.start)].strip(_EDGE)
    text = _REASON_PREFIX.sub("", text).lstrip("了吧").strip(_EDGE)
    return text
