"""Where every item stands: on hand, in transit, position, aged units, proposals and plans.

The JSON shape is the one `vmi-bot status --json` and `GET /api/status` promise (CONTRACT §4).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime, time
from typing import Any

from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.services.terms import effective
from bot.storage.plans import plans_by_item
from bot.storage.proposals import as_rule, open_proposals
from bot.storage.stock import aged_quantities, movements_by_item, stock_levels
from messages.render import render_card
from messages.words import state_labels
from vmi_rules.proposal import in_transit, position
from vmi_rules.settlement import settle, settlement_period


def status(
    session: Session,
    config: Config,
    now: datetime,
    agreement_ids: Collection[str] | None = None,
) -> dict[str, Any]:
    """The status document for the agreements (all by default), read in a few set-wise queries
    that each read only these agreements' rows."""
    # with agreement_ids, nothing of the others is read
    config = effective(config, session, agreement_ids)  # items as agreed, amendments applied
    agreements = list(config.agreements)
    ids = [a.id for a in agreements]
    levels = stock_levels(session, ids)
    proposals = open_proposals(session, ids)
    aged = aged_quantities(session, levels, {a.id: a.terms.overstock_days for a in agreements}, now)
    today = min((now.astimezone(a.tz).date() for a in agreements), default=now.date())
    plans = plans_by_item(session, ids, today)
    # what the next statement bills: withdrawals since each agreement's latest cutoff
    cutoffs = {
        a.id: settlement_period(now.astimezone(a.tz), a.terms.settlement_day)[1] for a in agreements
    }
    withdrawn = movements_by_item(
        session, ids, kinds=["withdrawal"], since=min(cutoffs.values(), default=now)
    )

    out = []
    for agreement in agreements:
        items = []
        for item in agreement.items:
            key = (agreement.id, item.sku)
            level = levels.get(key)
            on_hand = level.on_hand if level else 0
            open_rules = [as_rule(row) for row in proposals.get(key, [])]
            last_count = level.last_count_at if level else None
            items.append(
                {
                    "sku": item.sku,
                    "name": item.name,
                    "name_en": item.name_en,
                    "unit": item.unit,
                    "on_hand": on_hand,
                    "in_transit": in_transit(open_rules),
                    "position": position(on_hand, open_rules),
                    "min": item.min,
                    "max": item.max,
                    "pack_size": item.pack_size,
                    "moq": item.moq,
                    "sources": _sources(agreement, item.sku),
                    "aged_qty": aged.get(key, 0),
                    "billable_qty": settle(
                        withdrawn.get(key, []), cutoffs[agreement.id], now, item.unit_price
                    ).qty,
                    "last_count_at": (
                        last_count.astimezone(agreement.tz).isoformat() if last_count else None
                    ),
                    "open_proposals": [
                        {
                            "id": p.id,
                            "qty": p.qty,
                            "state": p.state.value,
                            "urgent": p.urgent,
                            "shipped_qty": p.shipped_qty,
                            "received_qty": p.received_qty,
                            "eta": p.eta.isoformat() if p.eta else None,
                            "updated_at": row.updated_at.astimezone(agreement.tz).isoformat(),
                        }
                        for row, p in zip(proposals.get(key, []), open_rules, strict=True)
                    ],
                    "demand_plans": [
                        {"period": plan.period.label, "qty": plan.qty}
                        for plan in plans.get(key, [])
                    ],
                }
            )
        customer, supplier = config.party(agreement.customer), config.party(agreement.supplier)
        out.append(
            {
                "id": agreement.id,
                "customer": agreement.customer,
                "supplier": agreement.supplier,
                "customer_name": customer.name if customer else agreement.customer,
                "supplier_name": supplier.name if supplier else agreement.supplier,
                "items": items,
                "reminders": _reminders(agreement),
            }
        )
    return {"agreements": out}


def _reminders(agreement: AgreementConfig) -> dict[str, Any]:
    """The reminder settings as agreed, times as "HH:MM", and where each time comes from."""
    when = agreement.terms.reminders
    shown = {
        key: f"{value:%H:%M}" if isinstance(value, time) else value
        for key, value in asdict(when).items()
    }
    return {**shown, "sources": _sources(agreement, "")}


def _sources(agreement: AgreementConfig, sku: str) -> dict[str, dict[str, str | None]]:
    """Where each amendable figure comes from: the file, or an agreed amendment (who, when)."""
    out: dict[str, dict[str, str | None]] = {}
    for source in agreement.sources_of(sku):
        if not source.amendment_id:
            out[source.field] = {"from": "file"}
            continue
        at = source.agreed_at.astimezone(agreement.tz).isoformat() if source.agreed_at else None
        out[source.field] = {
            "from": "amendment",
            "id": source.amendment_id,
            "proposed_by": source.proposed_by,
            "agreed_by": source.agreed_by,
            "agreed_at": at,
        }
    return out


def status_text(document: dict[str, Any], locale: str = "zh") -> str:
    """The status document as a person reads it: the chat's status card, as plain text."""
    return "\n\n".join(
        render_card(
            "status",
            locale,
            agreement=a["id"],
            items=a["items"],
            states=state_labels(locale),
            reminders=a.get("reminders", {}),
        ).as_text()
        for a in document["agreements"]
    )
