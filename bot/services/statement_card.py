"""How a statement is shown: its card (lines, adjustments, total, who signed, the dispute that
holds it, the buttons while it waits) and the JSON of
`vmi-bot settle --json`, both from the one stored row, so that the chat and the command line
show the same figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from bot.config import AgreementConfig
from bot.storage import statements as stored
from bot.storage.tables import StatementRow
from messages.cards import Card
from messages.render import render_card, statement_buttons
from vmi_rules.settlement import StatementState


def statement_card(
    session: Session,
    agreement: AgreementConfig,
    row: StatementRow,
    locale: str,
) -> Card:
    """The statement's card: lines, adjustments, total, who signed, open disputes; the
    confirm and dispute buttons while it waits. The month's review is not on it: the full
    review (bot.services.retro) posts after it with its chart."""
    context = statement_context(session, agreement, row)
    buttons = (
        statement_buttons(context["id"], row.revision)
        if row.state == StatementState.DRAFT.value
        else ()
    )
    return render_card("settlement", locale, buttons=buttons, **context)


def statement_context(
    session: Session, agreement: AgreementConfig, row: StatementRow
) -> dict[str, Any]:
    """What a statement's cards and `vmi-bot settle --json` show of it, in one shape."""
    assert row.id is not None
    tz = agreement.tz
    lines = stored.lines_of(row)
    disputes = [
        {"by": e.by_name, "at": _local(e.at, agreement), "reason": e.reason, "revision": e.revision}
        for e in stored.events(session, row.id, "dispute")
    ]
    confirmed = {
        side: {"by": by, "at": _local(at, agreement)}
        for side, by, at in (
            ("buyer", row.buyer_by, row.buyer_at),
            ("supplier", row.supplier_by, row.supplier_at),
        )
        if at is not None
    }
    return {
        "id": stored.public_id(row.id),
        "agreement": agreement.id,
        "revision": row.revision,
        "state": row.state,
        "start": row.period_start.astimezone(tz).date().isoformat(),
        "end": (row.period_end.astimezone(tz) - timedelta(days=1)).date().isoformat(),
        "lines": [_shown(line) for line in lines if line["kind"] == "withdrawal"],
        "adjustments": [_shown(line) for line in lines if line["kind"] == "adjustment"],
        "total": f"{row.total:,.2f}",
        "confirmed": confirmed,
        "disputes": disputes,
        # the dispute that holds it now: the last one since it was last issued
        "open_dispute": disputes[-1] if disputes and row.state == "disputed" else None,
    }


def statement_document(
    session: Session, agreement: AgreementConfig, row: StatementRow
) -> dict[str, Any]:
    """`vmi-bot settle --json`: the statement as CONTRACT §3 shapes it, figures as numbers."""
    context = statement_context(session, agreement, row)
    raw = stored.lines_of(row)

    def money(text: str) -> float:
        return float(Decimal(text))

    def line(raw: dict[str, Any]) -> dict[str, Any]:
        shown = {k: raw[k] for k in ("sku", "name", "unit", "qty")}
        shown.update(unit_price=money(raw["unit_price"]), amount=money(raw["amount"]))
        if raw["kind"] == "adjustment":
            shown.update(of=raw["of"], period={"start": raw["start"], "end": raw["end"]})
        return shown

    return {
        "id": context["id"],
        "agreement": agreement.id,
        "period": {"start": context["start"], "end": context["end"]},
        "revision": row.revision,
        "lines": [line(r) for r in raw if r["kind"] == "withdrawal"],
        "adjustments": [line(r) for r in raw if r["kind"] == "adjustment"],
        "total": money(str(row.total)),
        "state": row.state,
        "confirmed_by": context["confirmed"],
        "disputes": context["disputes"],
    }


def _shown(line: dict[str, Any]) -> dict[str, Any]:
    """A stored line as cards show it: money with two decimals and thousands separators."""
    return {
        **line,
        "unit_price": f"{Decimal(line['unit_price']):,.2f}",
        "amount": f"{Decimal(line['amount']):,.2f}",
    }


def _local(at: datetime, agreement: AgreementConfig) -> str:
    return at.astimezone(agreement.tz).strftime("%Y-%m-%d %H:%M")
