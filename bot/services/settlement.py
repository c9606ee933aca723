"""Settlement (结算): the statement of withdrawals × unit price that both sides sign, with the
month's review (复盘) on its card.

Drafted on settlement day (or by `vmi-bot settle`) for the period that closed at the latest
cutoff, once per agreement and period; confirmed by the buyer's side and the supplier's side in
either order, then locked; a dispute holds it until a correcting entry and a re-issue (the same
id, the next revision). A locked period changed later is put right by an adjustment line of the
next statement. Who hears what is bot.services.announce's say (the agreement's group)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.config import AgreementConfig, Config
from bot.services.announce import group_messages, statement_messages
from bot.services.statement_card import statement_card
from bot.storage import statements as stored
from bot.storage.catalog import hold_agreement
from bot.storage.outbox import enqueue_all
from bot.storage.overstock import agreed_discounts
from bot.storage.stock import movements_by_item
from bot.storage.tables import DemandPlanRow, ProposalRow, StatementRow
from messages.cards import Card
from vmi_rules.monthly_review import MonthlyReview, review_month
from vmi_rules.periods import month_of
from vmi_rules.proposal import Actor
from vmi_rules.settlement import (
    Adjustment,
    Billed,
    Settlement,
    StatementRefused,
    StatementState,
    adjustments,
    discounts_left,
    settle,
    settlement_period,
    side_of,
)
from vmi_rules.settlement import (
    Statement as Signing,
)
from vmi_rules.settlement import total as total_of
from vmi_rules.terms import Item


@dataclass(frozen=True)
class ItemStatement:
    """One item's line of the statement and its month."""

    item: Item
    settlement: Settlement
    month: MonthlyReview


@dataclass(frozen=True)
class Statement:
    """What the agreement owes for the period, item by item, and the adjustments of locked
    periods changed since."""

    agreement_id: str
    start: datetime
    end: datetime
    lines: tuple[ItemStatement, ...]
    adjustments: tuple[Adjustment, ...] = ()

    @property
    def amount(self) -> Decimal:
        """The total to settle: the lines and the adjustments."""
        return total_of((line.settlement for line in self.lines), self.adjustments)


@dataclass(frozen=True)
class Issued:
    """A statement as drafted or re-issued: the stored row, its figures, and whether its card
    was queued by this call."""

    row: StatementRow
    statement: Statement
    posted: bool


def statement(session: Session, agreement: AgreementConfig, now: datetime) -> Statement:
    """The statement for the settlement period that closed last before `now`."""
    start, end = settlement_period(now.astimezone(agreement.tz), agreement.terms.settlement_day)
    return statement_for(session, agreement, start, end)


def statement_for(
    session: Session,
    agreement: AgreementConfig,
    start: datetime,
    end: datetime,
    but: int | None = None,
) -> Statement:
    """The figures of the period [start, end): withdrawals × price per item with the month's
    review, and the adjustments of locked periods (`but`: the stored statement being redone,
    whose own adjustments are not yet carried)."""
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
    discounted = agreed_discounts(session, agreement.id)
    lines = []
    for item in agreement.items:
        movements = history.get((agreement.id, item.sku), [])
        breaks = discounts_left(discounted.get(item.sku, []), movements, start)
        lines.append(
            ItemStatement(
                item,
                settle(movements, start, end, item.unit_price, breaks),
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
    carried = stored.carried(session, agreement.id, but)
    billed = [
        Billed(
            stored.public_id(row.id),
            line["sku"],
            row.period_start,
            row.period_end,
            int(line["qty"]),
            Decimal(line["unit_price"]),
            carried.get((stored.public_id(row.id), line["sku"]), 0),
        )
        for row in stored.locked_before(session, agreement.id, start)
        for line in stored.lines_of(row)
        if line["kind"] == "withdrawal"
    ]
    per_sku = {sku: moved for (_, sku), moved in history.items()}
    return Statement(agreement.id, start, end, tuple(lines), tuple(adjustments(billed, per_sku)))


def stored_lines(agreement: AgreementConfig, done: Statement) -> list[dict[str, Any]]:
    """The statement's lines as they are kept and shown: one per item, then the adjustments."""
    out: list[dict[str, Any]] = [
        {
            "kind": "withdrawal",
            "sku": line.item.sku,
            "name": line.item.name,
            "unit": line.item.unit,
            "qty": line.settlement.qty,
            "unit_price": str(line.settlement.unit_price),
            "amount": str(line.settlement.amount),
            "discounted_qty": line.settlement.discounted_qty,
        }
        for line in done.lines
    ]
    for adj in done.adjustments:
        item = agreement.item(adj.sku)
        out.append(
            {
                "kind": "adjustment",
                "sku": adj.sku,
                "name": item.name if item else adj.sku,
                "unit": item.unit if item else "",
                "qty": adj.qty,
                "unit_price": str(adj.unit_price),
                "amount": str(adj.amount),
                "of": adj.statement_id,
                "start": adj.start.astimezone(agreement.tz).date().isoformat(),
                "end": (adj.end.astimezone(agreement.tz) - timedelta(days=1)).date().isoformat(),
            }
        )
    return out


def draft(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    now: datetime,
    platforms: frozenset[str] = frozenset(),
) -> Issued:
    """The statement of the period that closed last before `now`, drafted once: a second call
    finds it and posts nothing, unless it was disputed or its figures changed since (then it is
    re-issued as the next revision). A locked one is returned as it is."""
    start, end = settlement_period(now.astimezone(agreement.tz), agreement.terms.settlement_day)
    # one at a time per agreement: each reads what the others carry already (`carried`), and
    # two at once would both carry the same correction
    hold_agreement(session, agreement.id)
    row = stored.for_period(session, agreement.id, end)
    if row is not None:
        return _again(session, config, agreement, row, now, platforms)
    done = statement_for(session, agreement, start, end)
    row, made = stored.create_once(
        session, agreement.id, start, end, stored_lines(agreement, done), done.amount, now
    )
    if not made:  # another process drafted it first
        return _again(session, config, agreement, row, now, platforms)
    _post(session, config, agreement, row, now, platforms)
    return Issued(row, done, posted=True)


def _again(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    row: StatementRow,
    now: datetime,
    platforms: frozenset[str],
) -> Issued:
    if row.state != StatementState.LOCKED.value:
        try:
            row = reissue(session, config, agreement, row, None, now, platforms)
            posted = True
        except StatementRefused:  # a draft whose figures still hold: nothing to post again
            posted = False
    else:
        posted = False
    done = statement_for(session, agreement, row.period_start, row.period_end, but=row.id)
    return Issued(row, done, posted=posted)


def post_statements(
    session: Session,
    config: Config,
    now: datetime,
    *,
    agreement_ids: list[str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> list[Issued]:
    """Draft each agreement's statement (once; see `draft`) and queue its card with the
    confirm and dispute buttons for whoever hears of statements (the agreement's group)."""
    return [
        draft(session, config, agreement, now, platforms)
        for agreement in config.agreements
        if agreement_ids is None or agreement.id in agreement_ids
    ]


def reissue(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    row: StatementRow,
    who: Actor | None,
    now: datetime,
    platforms: frozenset[str],
) -> StatementRow:
    """Recompute the statement's period and issue it again as the next revision, its
    signatures cleared; refused for a locked one, and for a draft whose figures still hold."""
    # one at a time per agreement: each reads what the others carry already (`carried`), and
    # two at once would both carry the same correction
    hold_agreement(session, agreement.id)
    for _ in range(3):
        fresh = stored.get(session, stored.public_id(row.id))
        assert fresh is not None
        row = fresh
        done = statement_for(session, agreement, row.period_start, row.period_end, but=row.id)
        lines = stored_lines(agreement, done)
        after = stored.as_rule(row).reissue(changed=lines != stored.lines_of(row))
        if stored.apply(session, row, after, now, lines=lines, total=done.amount):
            row = stored.get(session, stored.public_id(row.id)) or row
            stored.log(
                session, row, "reissue", now, member_id=who.member_id if who else None,
                by_name=who.name if who else "", total=done.amount,
            )  # fmt: skip
            _post(session, config, agreement, row, now, platforms)
            return row
    raise StatementRefused("already", stored.as_rule(row))


def confirm(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    public: str,
    who: Actor,
    now: datetime,
    revision: int | None = None,
) -> tuple[StatementRow, str, Signing]:
    """One side signs the statement (the side is the member's role's, or an admin's party's):
    (the row, the side, the statement after). Raises LookupError for a statement that is not
    this agreement's, StatementRefused when the rules say no."""
    party = config.party(who_party(config, who))
    for _ in range(3):
        row = _find(session, agreement, public)
        before = stored.as_rule(row)
        side = side_of(who.role, party.role if party else None, before.confirmed)
        if side is None:
            raise StatementRefused("already", before)
        after = before.confirm(side, who.name, now, revision)
        if stored.apply(session, row, after, now):
            row = _find(session, agreement, public)
            stored.log(session, row, "confirm", now, side=side, member_id=who.member_id,
                       by_name=who.name)  # fmt: skip
            if after.state is StatementState.LOCKED:
                stored.log(session, row, "lock", now)
            return row, side, after
    raise StatementRefused("already", stored.as_rule(row))


def dispute(
    session: Session,
    agreement: AgreementConfig,
    public: str,
    who: Actor,
    reason: str,
    now: datetime,
) -> StatementRow:
    """Either side says the statement is wrong, and why: recorded, and the signatures cleared
    until it is re-issued. Raises as `confirm` does."""
    for _ in range(3):
        row = _find(session, agreement, public)
        after = stored.as_rule(row).dispute(reason)
        if stored.apply(session, row, after, now):
            row = _find(session, agreement, public)
            stored.log(session, row, "dispute", now, member_id=who.member_id, by_name=who.name,
                       reason=reason.strip())  # fmt: skip
            return row
    raise StatementRefused("already", stored.as_rule(row))


def who_party(config: Config, who: Actor) -> str:
    """The party a member belongs to ("" for none, as an admin of the bot)."""
    member = next((m for m in config.members if m.id == who.member_id), None)
    return (member.party or "") if member else ""


def _find(session: Session, agreement: AgreementConfig, public: str) -> StatementRow:
    row = stored.get(session, public)
    if row is None or row.agreement_id != agreement.id:  # another agreement's is not there
        raise LookupError(public)
    return row


def _post(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    row: StatementRow,
    now: datetime,
    platforms: frozenset[str],
) -> None:
    card = statement_card(session, agreement, row, config.bot.locale)
    key = f"statement:{row.id}:r{row.revision}"
    enqueue_all(session, statement_messages(config, agreement, card, now, platforms, key))


def tell_the_group(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    card: Card,
    now: datetime,
    platforms: frozenset[str],
    key: str,
    said_in: tuple[str, str] | None = None,
) -> None:
    """A statement's step for the agreement's group, but not where it was said: the reply
    says it there."""
    everywhere = group_messages(config, agreement, card, now, platforms, key)
    enqueue_all(
        session, [m for m in everywhere if (m.destination.platform, m.destination.chat) != said_in]
    )
