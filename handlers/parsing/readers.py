"""The readers: which intent a scanned message states, and that intent's reader, which pairs
items with quantities and checks them. `parse` is the parser's one entry point."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta

from handlers.parsing.amendments import read_amendment
from handlers.parsing.entries import (
    item_lines,
    read_count,
    read_demand,
    read_status,
    read_withdrawal,
)
from handlers.parsing.normalise import normalise
from handlers.parsing.overstock import read_overstock
from handlers.parsing.pages import read_page
from handlers.parsing.parsed import (
    MAX_TEXT,
    ConfirmCount,
    Correction,
    Count,
    Courtesy,
    Emergency,
    Help,
    Intent,
    Plan,
    Refusal,
    Retro,
    ReviewNow,
    Status,
    Suggest,
    Todo,
    Undo,
)
from handlers.parsing.proposals import ACTIONS, read_proposal
from handlers.parsing.quantities import line_of, named_skus, numeric_codes, quantity_tokens
from handlers.parsing.sheet import read_sheet_command
from handlers.parsing.simulate import read_simulate
from handlers.parsing.statements import read_statement
from handlers.parsing.tokens import Message
from vmi_rules.periods import month_of
from vmi_rules.terms import Item


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


def _decide(msg: Message, today: date) -> Intent | Refusal:
    """The intent, by the strongest signal first: a proposal id, then the intent words."""
    families = msg.families
    if msg.of("pid"):
        return read_proposal(msg, today)
    if _courtesy(msg):
        return Courtesy(agrees=msg.has("yes"))
    if "retro" in families and not msg.of("item", "num", "code"):
        return _retro(msg, today)
    if "suggest" in families and not quantity_tokens(msg) and not msg.of("period"):
        if codes := msg.of("code", "num"):  # "建议 6299": no such item here
            return Refusal("unknown_item", detail=codes[0].text)
        items = named_skus(msg)  # "建议 6205": one item; "建议" (or several): every item
        return Suggest(items[0]) if len(items) == 1 else Suggest()
    if "emergency" in families:
        return read_demand(msg, Emergency, "emergency")
    if "plan" in families:
        return read_demand(msg, Plan, "plan")
    if "undo" in families:  # "撤销": the last entry, whatever data a reader of it names
        return Refusal("not_understood") if msg.of("num", "pid", "period", "code") else Undo()
    if "todo" in families and not msg.of("item"):
        return Todo()  # "待确认", "what's pending": before status, which "what's" also names
    if "status" in families:
        return read_status(msg, "status")
    if "withdrawal" in families:
        return read_withdrawal(msg, today)
    if "correction" in families:
        return item_lines(msg, Correction, "correction", allow_zero=True)
    if families == {"confirm", "count"} and not msg.of("num", "pid", "period", "code"):
        items = named_skus(msg)  # "确认盘点", "confirm count 6205": a held count was right
        return ConfirmCount(items[0] if len(items) == 1 else None)
    if "count" in families:
        return read_count(msg, today)
    if msg.of("period"):
        return read_demand(msg, Plan, "plan")
    for action in ACTIONS:
        if action in families:
            # "6205 入库 50" without a proposal id: say which id is needed.
            return Refusal("not_understood") if msg.vague(action) else _ambiguous(msg, action)
    if "review" in families:
        if msg.vague("review") or msg.of("num", "code"):
            return Refusal("not_understood")
        items = named_skus(msg)
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


def _no_keyword(msg: Message, today: date) -> Intent | Refusal:
    """No intent word: "6205 45" lines are a count, "6205" alone a question, "?" help."""
    if msg.of("num") and (msg.of("item") or msg.of("code") or numeric_codes(msg)):
        # Only clean lines: "6205 was late by 45 minutes" is chat, not a count.
        numbered = {line_of(msg, tok) for tok in msg.of("num")}
        if any(line_of(msg, tok) in numbered for tok in msg.of("text")):
            return Refusal("not_understood")
        return item_lines(msg, Count, "count", allow_zero=True, today=today)
    if msg.of("num"):
        return Refusal("not_understood")
    if msg.of("item"):
        return read_status(msg, "status")
    if msg.of("code") and msg.question and not msg.of("text"):
        return Refusal("unknown_item", detail=msg.of("code")[0].text, hint="status")
    if msg.question and not msg.tokens:
        return Help()  # "?" alone
    return Refusal("not_understood")
