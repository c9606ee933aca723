"""Parties, members, agreements and items mirror the configuration file.

They are loaded at every start: a changed file updates the rows, and whatever left the file is
marked inactive rather than deleted, so the ledger and proposals that name it keep their history.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from bot.config import Config
from bot.storage.migrate import MIGRATION_LOCK_KEY
from bot.storage.tables import AgreementRow, ItemRow, MemberRow, PartyRow

# The catalog tables keyed by the configuration's own ids.
Mirrored = TypeVar("Mirrored", PartyRow, MemberRow, AgreementRow)


def sync_catalog(session: Session, config: Config) -> None:
    """Make the catalog tables say what `config` says, keeping rows that left it as inactive."""
    if session.get_bind().dialect.name == "postgresql":
        # Processes starting together would otherwise insert the same rows at once.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
    _sync(
        session,
        PartyRow,
        {p.id: {"name": p.name, "role": p.role} for p in config.parties},
    )
    _sync(
        session,
        MemberRow,
        {
            m.id: {
                "name": m.name,
                "party_id": m.party,
                "role": m.role,
                "console": m.console,
                "slack": m.slack,
                "wecom": m.wecom,
                "locale": m.locale,
            }
            for m in config.members
        },
    )
    _sync(
        session,
        AgreementRow,
        {
            a.id: {
                "customer_id": a.customer,
                "supplier_id": a.supplier,
                "timezone": a.timezone,
                "review_time": a.review_time.strftime("%H:%M"),
                "review_every_days": a.terms.review_every_days,
                "plan_due_day": a.terms.plan_due_day,
                "settlement_day": a.terms.settlement_day,
                "overstock_days": a.terms.overstock_days,
                "emergency_notice_hours": a.terms.emergency_notice_hours,
                "emergency_freight_customer_share": a.terms.emergency_freight_customer_share,
                "slack_channel": a.slack_channel,
                "wecom_chat": a.wecom_chat,
            }
            for a in config.agreements
        },
    )
    session.flush()
    _sync_items(session, config)


def _sync(session: Session, table: type[Mirrored], wanted: dict[str, dict[str, Any]]) -> None:
    stored = {row.id: row for row in session.exec(select(table))}
    for key, values in wanted.items():
        row = stored.get(key)
        if row is None:
            session.add(table(id=key, active=True, **values))
            continue
        for name, value in {**values, "active": True}.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    gone = [key for key in stored if key not in wanted]
    if gone:
        session.execute(update(table).where(col(table.id).in_(gone)).values(active=False))


def _sync_items(session: Session, config: Config) -> None:
    stored = {(row.agreement_id, row.sku): row for row in session.exec(select(ItemRow))}
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for agreement in config.agreements:
        for item in agreement.items:
            wanted[(agreement.id, item.sku)] = {
                "name": item.name,
                "aliases": json.dumps(list(item.aliases), ensure_ascii=False),
                "unit": item.unit,
                "min": item.min,
                "max": item.max,
                "pack_size": item.pack_size,
                "moq": item.moq,
                "rounding": item.rounding,
                "unit_price": item.unit_price,
                "lead_time_days": item.lead_time_days,
                "active": True,
            }
    for (agreement_id, sku), values in wanted.items():
        row = stored.get((agreement_id, sku))
        if row is None:
            session.add(ItemRow(agreement_id=agreement_id, sku=sku, **values))
            continue
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    for key, row in stored.items():
        if key not in wanted and row.active:
            row.active = False
