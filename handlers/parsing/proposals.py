"""The reader of the steps of a proposal: 确认 / 调整 / 拒绝 / 发货 / 入库 / 无法供货 / 取消 + P1,
an expected arrival ("P1 预计 12-05"), and a reason typed with a refusal."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from handlers.parsing.dates import closest_date
from handlers.parsing.entries import asks
from handlers.parsing.parsed import (
    Action,
    CorrectReceipt,
    History,
    Intent,
    ProposalAction,
    Receipt,
    Refusal,
    Status,
)
from handlers.parsing.quantities import checked_quantity
from handlers.parsing.tokens import Message, Tok
from handlers.parsing.vocabulary import TODAY

# When several action words meet, the more specific wins:
# 确认收货 is a receipt, 确认发货 a shipment.
ACTIONS: tuple[Action | Literal["receipt"], ...] = (
    "decline",
    "cancel",
    "reject",
    "ship",
    "receipt",
    "adjust",
    "confirm",
)


def read_proposal(msg: Message, today: date) -> Intent | Refusal:
    """确认 / 调整 / 拒绝 / 发货 / 入库 / 无法供货 / 取消 + P1, and "P1 预计 12-05"."""
    families = msg.families
    action = next((a for a in ACTIONS if a in families), None)
    if action is None and msg.has("yes"):
        action = "confirm"  # "ok P1", "好的 P1"
    if action is None and families & {"eta", "plan"} and not msg.of("item") and not asks(msg):
        action = "eta"  # "P1 预计 12-05", "P1 eta 12-05": the goods now arrive then
    ids = list(dict.fromkeys(str(tok.value) for tok in msg.of("pid")))
    if action is not None and msg.of("item") and families & {"count", "withdrawal"}:
        # "P1 入库后 6205 库存 95": the 95 is a count, not a partial receipt.
        return Refusal("ambiguous", detail=" ".join(ids), hint=action)
    if action is None:
        if len(ids) == 1 and not msg.of("item", "num"):
            return History(ids[0])  # "P1", "P1到哪了", "P1 status": where it is, step by step
        if asks(msg):
            return Status(None)  # "P1 P2?": the status lists the open proposals
        return Refusal("ambiguous", detail=" ".join(ids), hint="proposal")
    if len(ids) > 1:
        return Refusal("ambiguous", detail=" ".join(ids), hint=action)
    proposal_id = ids[0]
    if action in ("reject", "decline", "cancel"):
        return ProposalAction(action, proposal_id, reason=read_reason(msg))
    numbers = msg.of("num")
    eta: date | None = None
    if action in ("ship", "eta"):
        eta_or_refusal = read_eta(msg, numbers, today)
        if isinstance(eta_or_refusal, Refusal):
            return eta_or_refusal
        eta, numbers = eta_or_refusal
    if len(numbers) > 1:
        return Refusal("ambiguous", detail=" ".join(tok.text for tok in numbers), hint=action)
    qty: int | None = None
    if numbers:
        qty_or_refusal = checked_quantity(numbers[0], action, allow_zero=False)
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


def read_eta(
    msg: Message, numbers: list[Tok], today: date
) -> tuple[date | None, list[Tok]] | Refusal:
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


def read_reason(msg: Message) -> str:
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
