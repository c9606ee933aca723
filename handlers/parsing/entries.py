"""The readers of what keepers and buyers record: counts, withdrawals, corrections, plans and
emergency changes, and the questions about them ("6205 库存?"), which are answered, not recorded."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from handlers.parsing.parsed import (
    Correction,
    Count,
    Emergency,
    Intent,
    ItemQty,
    Plan,
    Refusal,
    Status,
    Withdrawal,
)
from handlers.parsing.quantities import item_quantities, named_skus, numeric_codes, quantity_tokens
from handlers.parsing.tokens import Message
from handlers.parsing.vocabulary import TODAY
from vmi_rules.periods import Period


def asks(msg: Message) -> bool:
    """Whether the message asks rather than tells: a question mark or word, 状态, 检查."""
    return msg.question or msg.has("status") or msg.has("review")


def item_lines(
    msg: Message,
    make: type[Count] | type[Correction] | type[Withdrawal],
    hint: str,
    allow_zero: bool,
    today: date | None = None,
) -> Intent | Refusal:
    """Item lines recorded as `make` (counts, corrections, withdrawals), or why not."""
    doubt = question_or_guess(msg, hint)
    if doubt is not None:
        return doubt
    lines = item_quantities(msg, hint, allow_zero)
    if isinstance(lines, Refusal):
        return lines
    rows = tuple(ItemQty(sku, qty) for sku, qty in lines)
    if make is Correction or today is None:
        return make(rows)  # a correction puts the latest count right: it has no day of its own
    on = day_named(msg, hint, today)
    if isinstance(on, Refusal):
        return on
    return Count(rows, on=on) if make is Count else Withdrawal(rows, on=on)


def question_or_guess(msg: Message, hint: str) -> Intent | Refusal | None:
    """A question about an item is answered, not recorded ("6205 库存 45?", "6205 库存是45吗");
    a guess is not recorded either ("约 40", "40 左右", "老王说…", "about 40")."""
    if msg.question:
        answer = read_status(msg, "status")
        if isinstance(answer, Status) and quantity_tokens(msg):  # a figure asked about, not said
            return replace(answer, entry_asked=True)
        return answer
    guess = next((tok for tok in msg.tokens if tok.kind == "kw" and tok.family == "guess"), None)
    if guess is not None:
        skus = named_skus(msg)
        return Refusal("approximate", detail=guess.text, hint=hint, sku=skus[0] if skus else "")
    return None


def day_named(msg: Message, hint: str, today: date) -> date | Refusal | None:
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


def read_count(msg: Message, today: date) -> Intent | Refusal:
    """库存 / 盘点 / stock, one or several items; "6205 库存?" is a question instead."""
    if msg.vague("count"):
        return Refusal("not_understood")
    if asks(msg) and not quantity_tokens(msg):
        return read_status(msg, "count")
    if periods_other_than_now(msg, today):
        return Refusal("ambiguous", detail=msg.of("period")[0].text, hint="count",
                       missing="period")  # fmt: skip
    return item_lines(msg, Count, "count", allow_zero=True, today=today)


def read_withdrawal(msg: Message, today: date) -> Intent | Refusal:
    """领用 / used. With a future period it is a plan (下周 6205 领用 20)."""
    if msg.vague("withdrawal"):
        return Refusal("not_understood")
    if asks(msg) and not quantity_tokens(msg):
        return read_status(msg, "withdrawal")
    periods = [tok.value for tok in msg.of("period")]
    if periods and all(isinstance(p, Period) and p.start > today for p in periods):
        return read_demand(msg, Plan, "plan")
    if periods:
        # "本月领用 85": a month's total, not a new withdrawal; recording it would double count.
        return Refusal("ambiguous", detail=msg.of("period")[0].text, hint="withdrawal",
                       missing="period")  # fmt: skip
    return item_lines(msg, Withdrawal, "withdrawal", allow_zero=False, today=today)


def periods_other_than_now(msg: Message, today: date) -> bool:
    """A count is for today: "本月盘点" is fine, "下月 6205 库存 45" is not a count."""
    return any(
        not (isinstance(tok.value, Period) and today in tok.value) for tok in msg.of("period")
    )


def read_status(msg: Message, hint: str) -> Intent | Refusal:
    """状态 / status / 6205 库存? — for one item when exactly one is named, else all."""
    if hint == "status" and msg.vague("status"):
        return Refusal("not_understood")
    skus = named_skus(msg)
    if not skus:
        codes = msg.of("code") + numeric_codes(msg)
        if codes:
            return Refusal("unknown_item", detail=codes[0].text, hint="status")
    return Status(skus[0] if len(skus) == 1 else None)


def read_demand(msg: Message, make: type[Plan] | type[Emergency], hint: str) -> Intent | Refusal:
    """A plan or an emergency change: one item, one period, one quantity."""
    if msg.vague(hint):
        return Refusal("not_understood")
    if asks(msg) and not quantity_tokens(msg):
        return read_status(msg, hint)
    lines = item_quantities(msg, hint, allow_zero=True)  # a plan of 0 is "no demand"
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
