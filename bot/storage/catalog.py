"""Parties, members, agreements and items mirror the configuration file.

They are loaded at every start: a changed file updates the rows, and whatever left the file is
marked inactive rather than deleted, so the ledger and proposals that name it keep their history.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import insert, text, update
from sqlmodel import Session, col, select

from bot.config import Config
from bot.storage.migrate import MIGRATION_LOCK_KEY
from bot.storage.tables import AgreementRow, ItemRow, MemberRow, PartyRow

# The catalog tables keyed by the configuration's own ids.
Mirrored = TypeVar("Mirrored", PartyRow, MemberRow, AgreementRow)


def hold_agreement(session: Session, agreement_id: str) -> None:
    """Lock the agreement's row until the transaction ends, for what is decided per agreement
    rather than per item (its statements, its reminder times): such decisions take turns.
    SQLite's writers take turns anyway. NO KEY: rows naming the agreement are not held up."""
    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(
        select(col(AgreementRow.id))
        .where(col(AgreementRow.id) == agreement_id)
        .with_for_update(key_share=True)
    )


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
    """The table's rows as `wanted` has them, compared as plain rows (no ORM objects)."""
    fields = [*next(iter(wanted.values()), {}), "active"]
    columns = [table.__table__.c[name] for name in fields]  # type: ignore[attr-defined]
    stored = {
        key: tuple(values) for key, *values in session.execute(select(col(table.id), *columns))
    }
    added = []
    for key, values in wanted.items():
        row = {**values, "active": True}
        now = stored.get(key)
        if now is None:
            added.append({"id": key, **row})
        elif now != tuple(row[name] for name in fields):
            session.execute(update(table).where(col(table.id) == key).values(**row))
    if added:
        session.execute(insert(table), added)
    gone = [key for key in stored if key not in wanted]
    if gone:
        session.execute(update(table).where(col(table.id).in_(gone)).values(active=False))


def _sync_items(session: Session, config: Config) -> None:
    """The items as the file has them; read and written as plain rows (no ORM objects), since
    a start with 10,000 agreements compares 100,000 of them."""
    fields = [
        "name", "aliases", "unit", "min", "max", "pack_size", "moq", "rounding", "unit_price",
        "lead_time_days", "active",
    ]  # fmt: skip
    columns = [ItemRow.__table__.c[name] for name in fields]  # type: ignore[attr-defined]
    key_columns = [col(ItemRow.id), col(ItemRow.agreement_id), col(ItemRow.sku)]
    stored = {
        (agreement_id, sku): (row_id, tuple(values))
        for row_id, agreement_id, sku, *values in session.execute(select(*key_columns, *columns))
    }
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    wanted: set[tuple[str, str]] = set()
    for agreement in config.agreements:
        for item in agreement.items:
            values = (
                item.name,
                json.dumps(list(item.aliases), ensure_ascii=False),
                item.unit,
                item.min,
                item.max,
                item.pack_size,
                item.moq,
                item.rounding,
                item.unit_price,
                item.lead_time_days,
                True,
            )
            key = (agreement.id, item.sku)
            wanted.add(key)
            row_id, now = stored.get(key, (None, None))
            if row_id is None:
                added.append(
                    {"agreement_id": agreement.id, "sku": item.sku, **_columns(fields, values)}
                )
            elif now != values:
                changed.append({"id": row_id, **_columns(fields, values)})
    changed += [
        {"id": row_id, "active": False}
        for key, (row_id, values) in stored.items()
        if key not in wanted and values[-1]
    ]
    if added:
        session.execute(insert(ItemRow), added)
    for row in changed:  # few: an edited file changes a handful of items
        session.execute(update(ItemRow).where(col(ItemRow.id) == row.pop("id")).values(**row))


def _columns(fields: list[str], values: tuple[Any, ...]) -> dict[str, Any]:
    """Column names with their values."""
    return dict(zip(fields, values, strict=True))
