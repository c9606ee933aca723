"""Settlement day (结算日): the statement of withdrawals × unit price, and the month's review
(复盘), posted to the agreement's group. Posting it twice for the same cutoff posts it once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.config import AgreementConfig, Config
from bot.services.announce import group_messages
from bot.storage.outbox import enqueue_all
from bot.storage.stock import movements_by_item
from bot.storage.tables import DemandPlanRow, ProposalRow
from messages.render import render_card
from vmi_rules.monthly_review import MonthlyReview, review_month
from vmi_rules.periods import month_of
from vmi_rules.settlement import Settlement, settle, settlement_period
from vmi_rules.terms import Item


@dataclass(frozen=True)
class ItemStatement:
    """One item's line of the statement and its month."""

    item: Item
    settlement: Settlement
    month: MonthlyReview


@dataclass(frozen=True)
class Statement:
    """What the agreement owes for the period, item by item."""

    agreement_id: str
    start: datetime
    end: datetime
    lines: tuple[ItemStatement, ...]

    @property
    def amount(self) -> Decimal:
        """The total to settle."""
        return sum((line.settlement.amount for line in self.lines), Decimal("0.00"))


def statement(session: Session, agreement: AgreementConfig, now: datetime) -> Statement:
    """The statement for the settlement period that closed last before `now`."""
    start, end = settlement_period(now.astimezone(agreement.tz), agreement.terms.settlement_day)
    history = movements_by_item(session, [agreement.id])
    # the plan compared is the month the period ends in (the 25th of November closes November)
    month = month_of((end - timedelta(days=1)).date())
    plans = dict(
        session.execute(
            select(col(DemandPlanRow.sku), col(DemandPlanRow.qty)).where(
                col(DemandPlanRow.agreement_id) == agreement.id,
                col(DemandPlanRow.period) == month.label,
            )
        ).all()
    )
    urgent = dict(
        session.execute(
            select(col(ProposalRow.sku), func.count())
            .where(
                col(ProposalRow.agreement_id) == agreement.id,
                col(ProposalRow.urgent).is_(True),
                col(ProposalRow.created_at) >= start,
                col(ProposalRow.created_at) < end,
            )
            .group_by(col(ProposalRow.sku))
        ).all()
    )
    lines = []
    for item in agreement.items:
        movements = history.get((agreement.id, item.sku), [])
        lines.append(
            ItemStatement(
                item,
                settle(movements, start, end, item.unit_price),
                review_month(
                    movements,
                    start,
                    end,
                    plans.get(item.sku),
                    agreement.terms.overstock_days,
                    urgent.get(item.sku, 0),
                ),
            )
        )
    return Statement(agreement.id, start, end, tuple(lines))


def post_statements(
    session: Session,
    config: Config,
    now: datetime,
    *,
    agreement_ids: list[str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> list[Statement]:
    """Queue each agreement's statement and monthly review for whoever hears of statements
    (bot.services.announce: the agreement's group)."""
    made = []
    for agreement in config.agreements:
        if agreement_ids is not None and agreement.id not in agreement_ids:
            continue
        done = statement(session, agreement, now)
        card = render_card(
            "settlement",
            config.bot.locale,
            agreement=agreement.id,
            start=done.start.date().isoformat(),
            end=(done.end - timedelta(days=1)).date().isoformat(),
            total=f"{done.amount:,.2f}",
            lines=[_line(line) for line in done.lines],
            overstock_days=agreement.terms.overstock_days,
        )
        key = f"settlement:{agreement.id}:{done.end.date()}"
        enqueue_all(session, group_messages(config, agreement, card, now, platforms, key))
        made.append(done)
    return made


def _line(line: ItemStatement) -> dict[str, object]:
    month, settlement = line.month, line.settlement
    return {
        "name": line.item.name,
        "name_en": line.item.name_en,
        "unit": line.item.unit,
        "qty": settlement.qty,
        "unit_price": f"{settlement.unit_price:,.2f}",
        "amount": f"{settlement.amount:,.2f}",
        "planned": month.planned,
        "error": month.forecast_error,
        "aged": month.aged,
        "stock_outs": month.stock_outs,
        "emergencies": month.emergencies,
        "average": month.average_on_hand,
        "turns": month.turns,
    }
