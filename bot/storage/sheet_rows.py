"""The rows the shared sheet lists as they are stored: every ledger row of an agreement (with
what took it back), its proposals, its plans and its statements, each in one query."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from bot.storage.tables import DemandPlanRow, LedgerRow, ProposalRow, StatementRow


def ledger_rows(
    session: Session,
    agreement_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[LedgerRow]:
    """Every ledger row of the agreement in ledger order, reversals included; only those dated
    in [since, until) when given."""
    query = select(LedgerRow).where(col(LedgerRow.agreement_id) == agreement_id)
    if since is not None:
        query = query.where(col(LedgerRow.at) >= since)
    if until is not None:
        query = query.where(col(LedgerRow.at) < until)
    return list(session.scalars(query.order_by(col(LedgerRow.id))))


def taken_back_ids(session: Session, agreement_id: str) -> set[int]:
    """The ids of the agreement's ledger rows a reversal took back."""
    found = session.scalars(
        select(col(LedgerRow.reverses_id)).where(
            col(LedgerRow.agreement_id) == agreement_id, col(LedgerRow.reverses_id).is_not(None)
        )
    )
    return {i for i in found if i is not None}


def proposal_rows(session: Session, agreement_id: str) -> list[ProposalRow]:
    """Every proposal of the agreement, oldest first."""
    query = select(ProposalRow).where(col(ProposalRow.agreement_id) == agreement_id)
    return list(session.scalars(query.order_by(col(ProposalRow.id))))


def plan_rows(session: Session, agreement_id: str) -> list[DemandPlanRow]:
    """Every demand plan of the agreement, by period and item."""
    query = select(DemandPlanRow).where(col(DemandPlanRow.agreement_id) == agreement_id)
    return list(
        session.scalars(query.order_by(col(DemandPlanRow.period_start), col(DemandPlanRow.sku)))
    )


def statement_rows(session: Session, agreement_id: str) -> list[StatementRow]:
    """Every statement of the agreement, oldest period first."""
    query = select(StatementRow).where(col(StatementRow.agreement_id) == agreement_id)
    return list(session.scalars(query.order_by(col(StatementRow.period_end))))
