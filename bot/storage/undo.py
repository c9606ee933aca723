"""Undo (撤销): a member takes back their last entry of the day, whatever its kind: a count or
withdrawal, a receipt, a demand plan, or a step of a proposal the other side has not acted on.

The last entry is the latest said of the member's entries in the agreement (by the time the
message was said, then by the message's order). Taking it back writes new rows (a ledger
reversal, a plan history line, an `undo` step of the proposal), never deletes one, and each
proposal change is a guarded transition in the caller's transaction: if the other side acted
in between, nothing is written and `UndoRefused` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from bot.storage import proposals as stored_proposals
from bot.storage.plans import last_plan_entry, take_back_plan
from bot.storage.stock import MovedSince, check_latest, last_own_row, take_back_row
from bot.storage.tables import (
    InboxRow,
    LedgerRow,
    PlanHistoryRow,
    ProposalRow,
    ProposalTransitionRow,
)
from vmi_rules.proposal import Actor, ProposalState, TransitionRefused

# Steps a member may take back while the other side has not acted on them.
UNDOABLE_STEPS = frozenset({"confirm", "adjust", "reject", "ship"})
# Steps that are entries too (the last one may be one) but are put right otherwise.
OTHER_STEPS = frozenset({"decline", "cancel", "eta"})


class UndoRefused(Exception):
    """The last entry cannot be taken back: `reason` names the refusal card, `context` its
    figures."""

    def __init__(self, reason: str, **context: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context = context


@dataclass(frozen=True)
class Undone:
    """What was taken back: its kind (count, withdrawal, receipt, plan or a proposal step),
    the item, the quantity, and what it left."""

    kind: str
    sku: str
    qty: int
    unbilled: int = 0  # count: the inferred withdrawal no longer billed; withdrawal: itself
    proposal: ProposalRow | None = None  # a receipt's or a step's proposal, as it is now
    period: str = ""  # a plan's period
    plan_now: int | None = None  # the plan restored, or None when there is none now
    previous_qty: int | None = None  # adjust: the quantity it was before
    said_at: datetime | None = None  # when the entry was said: what it raised came after


@dataclass(frozen=True)
class _Entry:
    said: tuple[datetime, int]
    ledger: LedgerRow | None = None
    step: ProposalTransitionRow | None = None
    plan: PlanHistoryRow | None = None


def undo_last_entry(
    session: Session, agreement_id: str, actor: Actor, since: datetime, at: datetime,
    inbox_id: int | None = None,
) -> Undone | None:  # fmt: skip
    """Take back the member's last entry said since `since`; None when there is none.

    Raises `UndoRefused` (`undo_moved`, `undo_acted`, `undo_step`, `undo_reproposed`,
    `undo_plan_changed` or `undo_urgent`)
    when it can no longer be taken back; nothing is written then.
    """
    entry = _last_entry(session, agreement_id, actor.member_id, since)
    if entry is None:
        return None
    try:
        if entry.plan is not None:
            return _undo_plan(session, entry.plan, at, inbox_id)
        if entry.step is not None:
            return _undo_step(session, entry.step, actor, at, inbox_id)
        assert entry.ledger is not None
        if entry.ledger.kind == "receipt":
            return _undo_receipt(session, entry.ledger, actor, at, inbox_id)
        undone = take_back_row(session, entry.ledger, at, inbox_id)
        return Undone(undone.kind, undone.sku, undone.qty, undone.unbilled, said_at=entry.said[0])
    except MovedSince as moved:
        raise UndoRefused("undo_moved", moved=moved.kind) from moved


def raised_since(
    session: Session, agreement_id: str, sku: str, since: datetime
) -> list[ProposalRow]:
    """The item's regular proposals raised at or after `since` that nobody has acted on yet:
    what a count or withdrawal said then may have raised (a stock-out reviews at once)."""
    rows = session.scalars(
        select(ProposalRow).where(
            col(ProposalRow.agreement_id) == agreement_id,
            col(ProposalRow.sku) == sku,
            col(ProposalRow.state) == ProposalState.PROPOSED.value,
            col(ProposalRow.urgent).is_(False),
            col(ProposalRow.created_at) >= since,
        )
    )
    return list(rows)


def last_entry_said(
    session: Session, agreement_id: str, member_id: str, since: datetime
) -> tuple[datetime, int] | None:
    """When the member's last entry since `since` was said (time, message order), or None."""
    entry = _last_entry(session, agreement_id, member_id, since)
    return entry.said if entry is not None else None


def said_when(session: Session, inbox_id: int | None, at: datetime) -> tuple[datetime, int]:
    """When something was said: its message's time when there is one (else `at`), and the
    message's order, to compare entries of every kind."""
    return _said(session, inbox_id, at)


def _said(session: Session, inbox_id: int | None, at: datetime) -> tuple[datetime, int]:
    """When an entry was said (its message's time when there is one) and the message's order."""
    if inbox_id is not None:
        received = session.scalar(
            select(col(InboxRow.received_at)).where(col(InboxRow.id) == inbox_id)
        )
        if received is not None:
            at = received
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), inbox_id or 0


def _last_entry(
    session: Session, agreement_id: str, member_id: str, since: datetime
) -> _Entry | None:
    """The member's latest entry of any kind since `since`."""
    found: list[_Entry] = []
    row = last_own_row(session, agreement_id, member_id, since)
    if row is not None:
        found.append(_Entry(_said(session, row.inbox_id, row.at), ledger=row))
    plan = last_plan_entry(session, agreement_id, member_id, since)
    if plan is not None:
        found.append(_Entry(_said(session, plan.inbox_id, plan.at), plan=plan))
    step = _last_step(session, agreement_id, member_id, since)
    if step is not None:
        found.append(_Entry(_said(session, step.inbox_id, step.at), step=step))
    return max(found, key=lambda e: e.said) if found else None


def _last_step(
    session: Session, agreement_id: str, member_id: str, since: datetime
) -> ProposalTransitionRow | None:
    """The member's latest proposal step since `since` not taken back (receipts are in the
    ledger, and found there)."""
    T = ProposalTransitionRow
    taken_back = select(col(T.reverses_id)).where(col(T.reverses_id).is_not(None))
    return session.scalars(
        select(T)
        .join(ProposalRow, col(ProposalRow.id) == col(T.proposal_id))
        .where(
            col(ProposalRow.agreement_id) == agreement_id,
            col(T.member_id) == member_id,
            col(T.action).in_(sorted(UNDOABLE_STEPS | OTHER_STEPS)),
            col(T.at) >= since,
            col(T.id).not_in(taken_back),
        )
        .order_by(col(T.at).desc(), col(T.id).desc())
        .limit(1)
    ).first()


def _acted(step: ProposalTransitionRow, public: str) -> UndoRefused:
    return UndoRefused(
        "undo_acted", proposal_id=public, by=step.by_name, action=step.action,
        state=step.to_state,
    )  # fmt: skip


def _undo_step(
    session: Session, step: ProposalTransitionRow, actor: Actor, at: datetime,
    inbox_id: int | None,
) -> Undone:  # fmt: skip
    row = session.get(ProposalRow, step.proposal_id, populate_existing=True)
    assert row is not None and row.id is not None
    public = stored_proposals.public_id(row.id)
    if step.action not in UNDOABLE_STEPS:
        raise UndoRefused("undo_step", proposal_id=public, action=step.action)
    latest = stored_proposals.latest_standing_step(session, row.id)
    if latest is None or latest.id != step.id:
        raise _acted(latest or step, public)
    if step.action == "reject":  # the review may have proposed again since: one open per item
        others = stored_proposals.open_proposals(session, [row.agreement_id]).get(
            (row.agreement_id, row.sku), []
        )
        again = [o for o in others if not o.urgent and o.id != row.id]
        if again and not row.urgent:
            raise UndoRefused(
                "undo_reproposed", proposal_id=public,
                other=stored_proposals.public_id(again[0].id),
            )  # fmt: skip
    previous_qty = _qty_before(session, row.id, step.id) if step.action == "adjust" else None
    before = ProposalState(step.from_state or ProposalState.PROPOSED.value)
    current = stored_proposals.as_rule(row)
    try:
        transition = current.take_back(actor, step.action, step.qty, before, at, previous_qty)
    except TransitionRefused as refused:
        raise UndoRefused("undo_step", proposal_id=public, action=step.action) from refused
    if not stored_proposals.apply(session, row, transition, inbox_id, reverses_id=step.id):
        raise _acted(
            stored_proposals.latest_standing_step(session, row.id) or step, public
        )  # someone was first
    after = stored_proposals.get(session, public) or row
    return Undone(step.action, row.sku, step.qty, proposal=after, previous_qty=previous_qty)


def _qty_before(session: Session, proposal_row_id: int, step_id: int | None) -> int | None:
    """The proposal's quantity before a step: the last one a step before it set."""
    T = ProposalTransitionRow
    return session.scalar(
        select(col(T.qty))
        .where(
            col(T.proposal_id) == proposal_row_id,
            col(T.id) < (step_id or 0),
            col(T.action).in_(("propose", "resize", "adjust")),
        )
        .order_by(col(T.id).desc())
        .limit(1)
    )


def _undo_receipt(
    session: Session, receipt: LedgerRow, actor: Actor, at: datetime, inbox_id: int | None
) -> Undone:
    """A receipt goes back with the proposal's received quantity and state; checked before
    anything is written, the proposal first (its guarded step), then the ledger."""
    check_latest(session, receipt)
    assert receipt.proposal_id is not None
    row = session.get(ProposalRow, receipt.proposal_id, populate_existing=True)
    assert row is not None and row.id is not None
    public = stored_proposals.public_id(row.id)
    step = stored_proposals.latest_standing_step(session, row.id)
    if step is None or step.action not in ("receive", "correct_receipt"):
        raise UndoRefused(
            "undo_acted", proposal_id=public, by=step.by_name if step else "",
            action=step.action if step else "", state=row.state,
        )  # fmt: skip
    before = ProposalState(step.from_state or row.state)
    if step.action == "correct_receipt":  # the corrected receipt goes whole: back on its way
        before = ProposalState.SHIPPED if row.shipped_qty else ProposalState.CONFIRMED
    current = stored_proposals.as_rule(row)
    transition = current.take_back(actor, "receive", receipt.qty, before, at)
    if not stored_proposals.apply(session, row, transition, inbox_id, reverses_id=step.id):
        raise _acted(stored_proposals.latest_standing_step(session, row.id) or step, public)
    take_back_row(session, receipt, at, inbox_id)
    after = stored_proposals.get(session, public) or row
    return Undone("receipt", row.sku, receipt.qty, proposal=after)


def _undo_plan(
    session: Session, entry: PlanHistoryRow, at: datetime, inbox_id: int | None
) -> Undone:
    if entry.urgent:  # it proposed the extra at once, which the supplier may act on already
        raise UndoRefused("undo_urgent", period=entry.period)
    if not take_back_plan(session, entry, at, inbox_id):
        raise UndoRefused("undo_plan_changed", period=entry.period)
    return Undone(
        "plan", entry.sku, entry.qty or 0, period=entry.period, plan_now=entry.previous_qty
    )
