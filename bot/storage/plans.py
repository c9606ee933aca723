"""Demand plans (需求计划) in the database: one quantity per item and period, the latest wins;
every entry is kept in the plan history, so that an undo restores the plan before it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from bot.storage.stock import ItemKey, hold_item
from bot.storage.tables import DemandPlanRow, PlanHistoryRow
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
    inbox_id: int | None = None,
    urgent: bool = False,
) -> tuple[DemandPlanRow, int | None]:
    """Store the plan for one item and period, and its history line; returns the row and the
    quantity it replaced."""
    # two plans of the item at once take turns: each history line names what it replaced
    hold_item(session, agreement_id, sku)
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
        before = None
    else:
        before = row.qty
        row.qty, row.member_id, row.updated_at = qty, member_id, at
    session.add(
        PlanHistoryRow(
            agreement_id=agreement_id, sku=sku, period=period.label, qty=qty,
            previous_qty=before, member_id=member_id, inbox_id=inbox_id, at=at, urgent=urgent,
        )
    )  # fmt: skip
    session.flush()
    return row, before


def last_plan_entry(
    session: Session, agreement_id: str, member_id: str, since: datetime
) -> PlanHistoryRow | None:
    """The member's latest plan entry since `since` that is not taken back, or None."""
    taken_back = select(col(PlanHistoryRow.reverses_id)).where(
        col(PlanHistoryRow.reverses_id).is_not(None)
    )
    return session.scalars(
        select(PlanHistoryRow)
        .where(
            col(PlanHistoryRow.agreement_id) == agreement_id,
            col(PlanHistoryRow.member_id) == member_id,
            col(PlanHistoryRow.reverses_id).is_(None),
            col(PlanHistoryRow.at) >= since,
            col(PlanHistoryRow.id).not_in(taken_back),
        )
        .order_by(col(PlanHistoryRow.id).desc())
        .limit(1)
    ).first()


def take_back_plan(
    session: Session, entry: PlanHistoryRow, at: datetime, inbox_id: int | None = None
) -> bool:
    """Put the plan back as it was before `entry` (or remove it when there was none), with a
    history line that says so; False when the plan was entered again since (nothing done)."""
    hold_item(session, entry.agreement_id, entry.sku)  # as set_plan: the item's plans take turns
    taken_back = select(col(PlanHistoryRow.reverses_id)).where(
        col(PlanHistoryRow.reverses_id).is_not(None)
    )
    latest = session.scalars(  # the latest entry that stands: no undo, none taken back
        select(PlanHistoryRow)
        .where(
            col(PlanHistoryRow.agreement_id) == entry.agreement_id,
            col(PlanHistoryRow.sku) == entry.sku,
            col(PlanHistoryRow.period) == entry.period,
            col(PlanHistoryRow.reverses_id).is_(None),
            col(PlanHistoryRow.id).not_in(taken_back),
        )
        .order_by(col(PlanHistoryRow.id).desc())
        .limit(1)
        .with_for_update()
    ).first()
    if latest is None or latest.id != entry.id:
        return False
    row = session.scalars(
        select(DemandPlanRow).where(
            col(DemandPlanRow.agreement_id) == entry.agreement_id,
            col(DemandPlanRow.sku) == entry.sku,
            col(DemandPlanRow.period) == entry.period,
        )
    ).one_or_none()
    if row is None or row.qty != entry.qty:
        return False
    if entry.previous_qty is None:
        session.delete(row)
    else:
        row.qty, row.updated_at = entry.previous_qty, at
    session.add(
        PlanHistoryRow(
            agreement_id=entry.agreement_id, sku=entry.sku, period=entry.period,
            qty=entry.previous_qty, previous_qty=entry.qty, member_id=entry.member_id,
            inbox_id=inbox_id, at=at, reverses_id=entry.id,
        )
    )  # fmt: skip
    session.flush()
    return True


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
