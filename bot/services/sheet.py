"""The shared sheet as people keep it (DESIGN §7): per agreement the stock table, the open
proposals step by step, plans against withdrawals, the last 60 days and the open statement; and
for a supplier one list of every customer's items, the shortest cover first. The figures are
the status document's, so the page and `vmi-bot status --json` never disagree."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.services.statement_card import statement_context
from bot.services.status import status
from bot.services.terms import effective
from bot.storage import proposals as stored_proposals
from bot.storage import statements as stored_statements
from bot.storage.stock import movements_by_item
from vmi_rules.cover import Covered, by_cover, daily_withdrawal, days_of_cover
from vmi_rules.daily import daily_stock
from vmi_rules.ledger import Movement
from vmi_rules.periods import parse_period

CHART_DAYS = 60
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 160, 4


def agreement_sheet(
    session: Session, config: Config, agreement_id: str, now: datetime
) -> dict[str, Any]:
    """Everything one agreement's page shows, from the status document and the ledger."""
    config = effective(config, session, [agreement_id])
    agreement = config.agreement(agreement_id)
    assert agreement is not None, agreement_id
    [document] = status(session, config, now, [agreement_id])["agreements"]
    history = movements_by_item(session, [agreement_id])
    local_now = now.astimezone(agreement.tz)
    items = []
    for item in document["items"]:
        movements = history.get((agreement_id, item["sku"]), [])
        per_day = daily_withdrawal(movements, now)
        items.append(
            {
                **item,
                "per_day": per_day,
                "cover": days_of_cover(item["on_hand"], per_day),
                "bar": _bar(item["on_hand"], item["position"], item["min"], item["max"]),
                "steps": {
                    p["id"]: _steps(session, agreement, p["id"]) for p in item["open_proposals"]
                },
                "plans": _plans_against_withdrawals(item["demand_plans"], movements, agreement),
                "chart": _chart(movements, item["min"], item["max"], agreement, now),
            }
        )
    latest = stored_statements.latest(session, agreement_id)
    open_statement = (
        statement_context(session, agreement, latest)
        if latest is not None and latest.state != "locked"
        else None
    )
    return {
        **document,
        "items": items,
        "statement": open_statement,
        "as_of": local_now.strftime("%Y-%m-%d %H:%M"),
        "timezone": agreement.timezone,
    }


def overview(
    session: Session, config: Config, agreement_ids: Collection[str], now: datetime
) -> list[dict[str, Any]]:
    """Every item of the agreements, with its customer, days of cover and what is proposed,
    confirmed and shipped; the shortest cover first, those without withdrawals last."""
    config = effective(config, session, agreement_ids)
    document = status(session, config, now, agreement_ids)
    ids = [a["id"] for a in document["agreements"]]
    since = now - timedelta(days=31)
    withdrawn = movements_by_item(session, ids, kinds=["withdrawal"], since=since)
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for agreement in document["agreements"]:
        for item in agreement["items"]:
            key = (agreement["id"], item["sku"])
            per_day = daily_withdrawal(withdrawn.get(key, []), now)
            lines[key] = {
                **item,
                "agreement": agreement["id"],
                "customer_name": agreement["customer_name"],
                "supplier_name": agreement["supplier_name"],
                "per_day": per_day,
                "cover": days_of_cover(item["on_hand"], per_day),
                **_pipeline(item["open_proposals"]),
            }
    order = by_cover([Covered(key, line["cover"]) for key, line in lines.items()])
    return [lines[c.key] for c in order]


def _pipeline(proposals: Sequence[dict[str, Any]]) -> dict[str, int]:
    """What waits for the buyer (proposed), for the supplier to send (confirmed) and is on its
    way (shipped, not yet received)."""
    proposed = sum(p["qty"] for p in proposals if p["state"] == "proposed")
    confirmed = sum(
        max(p["qty"] - max(p["shipped_qty"], p["received_qty"]), 0)
        for p in proposals
        if p["state"] in ("confirmed", "shipped")
    )
    shipped = sum(
        max(p["shipped_qty"] - p["received_qty"], 0)
        for p in proposals
        if p["state"] in ("confirmed", "shipped")
    )
    return {"proposed": proposed, "confirmed": confirmed, "shipped": shipped}


def _bar(on_hand: int, at_position: int, low: int, high: int) -> dict[str, float]:
    """Widths in percent of a bar whose full length is 1.25 × max: on hand, the position, and
    where min and max stand."""
    scale = max(high * 1.25, at_position, on_hand, 1)

    def pct(value: int) -> float:
        return round(100 * max(value, 0) / scale, 1)

    return {
        "on_hand": pct(on_hand),
        "position": pct(at_position),
        "min": pct(low),
        "max": pct(high),
    }


def _steps(session: Session, agreement: AgreementConfig, public: str) -> list[dict[str, Any]]:
    """A proposal's log, first step first: what, who, when, how many."""
    row = stored_proposals.get(session, public)
    if row is None or row.id is None:
        return []
    return [
        {
            "action": step.action,
            "state": step.to_state,
            "by": step.by_name,
            "qty": step.qty,
            "note": step.note,
            "at": step.at.astimezone(agreement.tz).strftime("%m-%d %H:%M"),
        }
        for step in stored_proposals.steps(session, row.id)
        if step.reverses_id is None
    ]


def _plans_against_withdrawals(
    plans: Sequence[dict[str, Any]], movements: Sequence[Movement], agreement: AgreementConfig
) -> list[dict[str, Any]]:
    """Each demand plan beside what was withdrawn in its period so far."""
    out = []
    for plan in plans:
        period = parse_period(plan["period"])
        used = sum(
            m.qty
            for m in movements
            if m.kind == "withdrawal" and m.at.astimezone(agreement.tz).date() in period
        )
        out.append({"period": plan["period"], "qty": plan["qty"], "withdrawn": used})
    return out


def _chart(
    movements: Sequence[Movement], low: int, high: int, agreement: AgreementConfig, now: datetime
) -> dict[str, Any]:
    """The last 60 days' closing stock as SVG coordinates, with the min and max lines."""
    local = now.astimezone(agreement.tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - timedelta(days=CHART_DAYS - 1)
    days = daily_stock(movements, start, midnight + timedelta(days=1))
    known = [d for d in days if d.known]
    top = max([high * 1.2, *(d.closing for d in known), 1])
    step = (CHART_WIDTH - 2 * CHART_PAD) / max(len(days) - 1, 1)

    def y(value: float) -> float:
        inner = CHART_HEIGHT - 2 * CHART_PAD
        return round(CHART_PAD + inner - inner * max(value, 0) / top, 1)

    points = " ".join(
        f"{round(CHART_PAD + k * step, 1)},{y(d.closing)}" for k, d in enumerate(days) if d.known
    )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "points": points,
        "min_y": y(low),
        "max_y": y(high),
        "first": days[0].day.strftime("%m-%d"),
        "last": days[-1].day.strftime("%m-%d"),
        "stock_outs": sum(1 for d in days if d.stocked_out),
    }
