"""The monthly review (复盘, rule 11) of an agreement, item by item, with the suggested min and
max (DESIGN §7): read from the ledger, the plans and the proposals; records nothing.

A review month `YYYY-MM` is the settlement period that closes in that month (with settlement
on the 25th, 2026-11 runs from 10-25 to 11-24), so that the review posted on settlement day
covers the same days as the statement; its plan is the month's (`YYYY-MM`) and the weeks'.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.config import AgreementConfig, Config
from bot.services.announce import group_messages
from bot.services.terms import effective
from bot.storage.outbox import enqueue_all
from bot.storage.stock import movements_by_item
from bot.storage.tables import DemandPlanRow, OutboxRow, ProposalRow, ProposalTransitionRow
from messages.cards import ButtonStyle, Card
from messages.render import render_card
from vmi_rules.daily import daily_withdrawals
from vmi_rules.ledger import Movement
from vmi_rules.monthly_review import Delivery, ItemReview, review_item
from vmi_rules.periods import month_of, parse_period
from vmi_rules.settlement import settlement_period
from vmi_rules.suggestion import HISTORY_DAYS, Suggestion, suggest
from vmi_rules.terms import Item


@dataclass(frozen=True)
class ItemRetro:
    """One item's month and its suggestion."""

    item: Item
    review: ItemReview
    suggestion: Suggestion | None


@dataclass(frozen=True)
class Retro:
    """An agreement's month: [start, end) on its clock, `to_date` while the month still runs."""

    agreement_id: str
    month: str
    start: datetime
    end: datetime
    to_date: bool
    items: tuple[ItemRetro, ...]

    def as_json(self) -> dict[str, Any]:
        """The review as `vmi-bot retro --json` prints it (keys only ever added)."""
        return {
            "agreement": self.agreement_id,
            "month": self.month,
            "period": {
                "start": self.start.date().isoformat(),
                "end": (self.end - timedelta(days=1)).date().isoformat(),
            },
            "to_date": self.to_date,
            "items": [_item_json(line) for line in self.items],
        }


def month_period(agreement: AgreementConfig, month: str) -> tuple[datetime, datetime]:
    """The settlement period closing in `month` ("YYYY-MM"), as local midnights.

    Raises ValueError for a label that is not a month."""
    period = parse_period(month)
    if period.days < 28:
        raise ValueError(f"{month!r} is a week: expected a month YYYY-MM (e.g. 2026-11)")
    day = agreement.terms.settlement_day
    closing = datetime(period.start.year, period.start.month, day, tzinfo=agreement.tz)
    return settlement_period(closing, day)


def last_closed_month(agreement: AgreementConfig, now: datetime) -> str:
    """The month of the latest settlement period closed at `now` (what settlement day posts)."""
    _, end = settlement_period(now.astimezone(agreement.tz), agreement.terms.settlement_day)
    return month_of((end - timedelta(days=1)).date()).label


def retro(session: Session, agreement: AgreementConfig, month: str, now: datetime) -> Retro:
    """The review of `month` for every item of the agreement; a month still running is
    reviewed up to the end of today. Pass the agreement as amended (bot.services.terms
    `effective`): the min and max compared are today's."""
    start, end = month_period(agreement, month)
    local_now = now.astimezone(agreement.tz)
    today_end = datetime.combine(
        local_now.date() + timedelta(days=1), datetime.min.time(), tzinfo=agreement.tz
    )
    to_date = end > today_end
    end = min(end, today_end)
    if end <= start:
        raise ValueError(f"{month} has not started yet (it begins {start.date().isoformat()})")
    history = movements_by_item(session, [agreement.id])
    plans = _plans(session, agreement.id)
    deliveries = _deliveries(session, agreement.id, start, end)
    urgent = _urgent(session, agreement.id, start, end)
    lines = []
    for item in agreement.items:
        movements = history.get((agreement.id, item.sku), [])
        item_plans = plans.get(item.sku, {})
        review = review_item(
            movements,
            start,
            end,
            item,
            month_plan=item_plans.get(month),
            week_plans={k: v for k, v in item_plans.items() if "W" in k},
            overstock_days=agreement.terms.overstock_days,
            deliveries=deliveries.get(item.sku, []),
            emergencies=urgent.get(item.sku, 0),
            customer_freight_share=agreement.terms.emergency_freight_customer_share,
        )
        lines.append(ItemRetro(item, review, suggestion_for(agreement, item, movements, end)))
    return Retro(agreement.id, month, start, end, to_date, tuple(lines))


def post_retros(
    session: Session,
    config: Config,
    now: datetime,
    *,
    agreement_ids: list[str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> list[Retro]:
    """On settlement day: queue each agreement's review of the period just closed, with its
    chart, for the agreement's group (bot.services.announce). Once per period: a second run
    queues nothing and draws nothing."""
    config = effective(config, session, agreement_ids)  # min and max as agreed, amended
    made = []
    for agreement in config.agreements:
        if agreement_ids is not None and agreement.id not in agreement_ids:
            continue
        month = last_closed_month(agreement, now)
        key = f"retro:{agreement.id}:{month}"
        queued = session.scalar(
            select(func.count()).where(col(OutboxRow.key).startswith(key + ":"))
        )
        if queued:
            continue
        done = retro(session, agreement, month, now)
        card = retro_card(done, agreement, config.bot.locale)
        card = replace(card, image=Card.png(retro_chart(done, config.bot.locale)),
                       image_name=f"retro-{agreement.id}-{month}.png")  # fmt: skip
        enqueue_all(session, group_messages(config, agreement, card, now, platforms, key))
        made.append(done)
    return made


def suggestion_for(
    agreement: AgreementConfig, item: Item, movements: list[Movement], end: datetime
) -> Suggestion | None:
    """The suggested min/max from the daily withdrawals of the 90 whole days before `end`, or
    of the days since the ledger began when that is later."""
    if not movements:
        return None
    local = end.astimezone(agreement.tz)
    end = datetime.combine(local.date(), datetime.min.time(), tzinfo=agreement.tz)
    first = min(m.at for m in movements).astimezone(agreement.tz).date()
    began = datetime.combine(first, datetime.min.time(), tzinfo=agreement.tz)
    start = max(end - timedelta(days=HISTORY_DAYS), began)
    if start >= end:
        return None
    return suggest(
        daily_withdrawals(movements, start, end),
        item,
        agreement.terms.review_every_days,
        agreement.terms.service_level,
    )


def _plans(session: Session, agreement_id: str) -> dict[str, dict[str, int]]:
    """Every plan of the agreement: per sku, qty by period label."""
    found: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(col(DemandPlanRow.sku), col(DemandPlanRow.period), col(DemandPlanRow.qty)).where(
            col(DemandPlanRow.agreement_id) == agreement_id
        )
    )
    for sku, period, qty in rows:
        found.setdefault(sku, {})[period.upper()] = qty
    return found


def _deliveries(
    session: Session, agreement_id: str, start: datetime, end: datetime
) -> dict[str, list[Delivery]]:
    """Proposals whose first goods came in [start, end), per sku."""
    first_receipt = func.min(col(ProposalTransitionRow.at))
    rows = session.execute(
        select(col(ProposalRow.sku), col(ProposalRow.created_at), first_receipt)
        .join(ProposalTransitionRow, col(ProposalTransitionRow.proposal_id) == col(ProposalRow.id))
        .where(
            col(ProposalRow.agreement_id) == agreement_id,
            col(ProposalTransitionRow.action) == "receive",
        )
        .group_by(col(ProposalRow.id), col(ProposalRow.sku), col(ProposalRow.created_at))
    )
    found: dict[str, list[Delivery]] = {}
    for sku, created, received in rows:
        if start <= received < end:
            found.setdefault(sku, []).append(Delivery(created, received))
    return found


def _urgent(session: Session, agreement_id: str, start: datetime, end: datetime) -> dict[str, int]:
    """Urgent proposals made in [start, end), per sku."""
    rows = session.execute(
        select(col(ProposalRow.sku), func.count())
        .where(
            col(ProposalRow.agreement_id) == agreement_id,
            col(ProposalRow.urgent).is_(True),
            col(ProposalRow.created_at) >= start,
            col(ProposalRow.created_at) < end,
        )
        .group_by(col(ProposalRow.sku))
    )
    return {sku: count for sku, count in rows}


def _item_json(line: ItemRetro) -> dict[str, Any]:
    review, month, suggestion = line.review, line.review.month, line.suggestion
    return {
        "sku": line.item.sku,
        "name": line.item.name,
        "unit": line.item.unit,
        "min": line.item.min,
        "max": line.item.max,
        "withdrawn": month.withdrawn,
        "planned": review.forecast.planned,
        "wmape": review.forecast.wmape,
        "bias": review.forecast.bias,
        "stockout_days": review.stockout_days,
        "fill_rate": review.fill_rate,
        "proposals_on_time": review.on_time,
        "proposals_late": review.late,
        "emergencies": month.emergencies,
        "emergency_customer_share": str(review.customer_freight_share),
        "aged_qty": month.aged,
        "under_plan": review.under_plan,
        "average_stock": month.average_on_hand,
        "average_value": str(review.average_value),
        "turns": month.turns,
        "on_hand_at_end": review.closing,
        "days_of_cover": review.days_of_cover,
        "suggested_min": suggestion.min if suggestion else None,
        "suggested_max": suggestion.max if suggestion else None,
        "suggestion": _suggestion_json(suggestion),
    }


def _suggestion_json(found: Suggestion | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "min": found.min,
        "max": found.max,
        "days": found.days,
        "mean_daily": found.mean_daily,
        "std_daily": found.std_daily,
        "protection_days": found.protection_days,
        "review_every_days": found.review_every_days,
        "lead_time_days": found.lead_time_days,
        "service_level": found.service_level,
        "z": found.z,
        "safety_stock": found.safety_stock,
    }


def retro_chart(done: Retro, locale: str) -> bytes:
    """The review's chart as PNG bytes (bot.services.chart, loaded only when one is drawn)."""
    from bot.services.chart import review_chart  # matplotlib takes a second to import

    return review_chart(done, locale)


def retro_card(done: Retro, agreement: AgreementConfig, locale: str) -> Card:
    """The review as a card, with the same figures as `--json`, and a button for each item
    whose suggested min/max differs from today's: it proposes that change."""
    return render_card(
        "retro",
        locale,
        buttons=tuple(
            button
            for line in done.items
            for button in suggestion_buttons(line.item, line.suggestion)
        ),
        agreement=done.agreement_id,
        month=done.month,
        start=done.start.date().isoformat(),
        end=(done.end - timedelta(days=1)).date().isoformat(),
        to_date=done.to_date,
        overstock_days=agreement.terms.overstock_days,
        items=[_item_shown(line, locale) for line in done.items],
    )


def suggestion_card(
    agreement: AgreementConfig, item: Item, found: Suggestion | None, locale: str
) -> Card:
    """The suggested min/max of one item, the figures behind it, and what to type to change."""
    shown: dict[str, Any] = {
        "sku": item.sku,
        "item_name": item.name_in(locale),
        "unit": item.unit,
        "current_min": item.min,
        "current_max": item.max,
        "found": found is not None,
    }
    if found is not None:
        shown |= _suggestion_json(found) or {}
        shown |= {
            "service_pct": _percent(found.service_level, 1),
            "demand_over_p": round(found.mean_daily * found.protection_days, 1),
            "demand_over_r": round(found.mean_daily * found.review_every_days, 1),
            "pack_size": item.pack_size,
            "moq": item.moq,
        }
    return render_card("suggest", locale, buttons=suggestion_buttons(item, found), **shown)


def suggestion_buttons(
    item: Item, found: Suggestion | None
) -> tuple[tuple[str, str, ButtonStyle], ...]:
    """ "Propose this change" when the suggestion differs from the item's min/max today: its
    value "6205:40:90" stands for 修改 6205 补货线 40 安全线 90."""
    if found is None or (found.min, found.max) == (item.min, item.max):
        return ()
    return (("amend", f"{item.sku}:{found.min}:{found.max}", "primary"),)


def _item_shown(line: ItemRetro, locale: str) -> dict[str, Any]:
    shown = _item_json(line)
    share = line.review.customer_freight_share
    return shown | {
        "name": line.item.name_in(locale),
        "wmape_pct": _percent(shown["wmape"]),
        "bias_pct": _percent(shown["bias"], signed=True),
        "fill_pct": _percent(shown["fill_rate"]),
        "average_value": f"{line.review.average_value:,.2f}",
        "customer_share": _percent(float(share)),
        "supplier_share": _percent(float(1 - share)),
    }


def _percent(value: float | None, digits: int = 0, *, signed: bool = False) -> str:
    """A share as a percentage ("37%", "+25%"); "–" when there is none."""
    if value is None:
        return "–"
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"
