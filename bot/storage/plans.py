"""Demand plans (需求计划) in the database: one quantity per item and period, the latest wins."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from bot.storage.stock import ItemKey
from bot.storage.tables import DemandPlanRow
from vmi_rules.periods import Period, parse_period
from vmi_rules.review import DemandPlan


def set_plan(
    session: Session,
    agreement_id: str,
    sku: str,
    period: Period,
    qty: int,
    at: datetime,
    member_id: str | None = None,
) -> tuple[DemandPlanRow, int | None]:
    """Store the plan for one item and period; returns the row and the quantity it replaced."""
    row = session.scalars(
        select(DemandPlanRow).where(
            col(DemandPlanRow.agreement_id) == agreement_id,
            col(DemandPlanRow.sku) == sku,
            col(DemandPlanRow.period) == period.label,
        )
    ).one_or_none()
    if row is None:
        row = DemandPlanRow(
            agreement_id=agreement_id,
            sku=sku,
            period=period.label,
            period_start=period.start,
            period_end=period.end,
            qty=qty,
            member_id=member_id,
            updated_at=at,
        )
        session.add(row)
        session.flush()
        return row, None
    before = row.qty
    row.qty, row.member_id, row.updated_at = qty, member_id, at
    session.flush()
    return row, before


def plans_by_item(
    session: Session, agreement_ids: Collection[str], ending_after: date
) -> dict[ItemKey, list[DemandPlan]]:
    """Plans whose period has not ended by `ending_after`, per item, in one query."""
    rows = session.scalars(
        select(DemandPlanRow)
        .where(
            col(DemandPlanRow.agreement_id).in_(list(agreement_ids)),
            col(DemandPlanRow.period_end) > ending_after,
        )
        .order_by(col(DemandPlanRow.period_start), col(DemandPlanRow.id))
    )
    found: dict[ItemKey, list[DemandPlan]] = defaultdict(list)
    for row in rows:
        found[(row.agreement_id, row.sku)].append(
            DemandPlan(sku=row.sku, period=parse_period(row.period), qty=row.qty)
        )
    return found
