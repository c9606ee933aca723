"""Proposals in the database: read them as rule objects, and move them as guarded transitions.

A transition is one conditional UPDATE (`… WHERE id = ? AND state = ? AND version = ?`) plus its
log row, in the caller's transaction. When two people press Confirm at once, one UPDATE wins; the
other finds the row changed, reads it again, and the rules answer "already confirmed by …".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Select, bindparam, insert, select, update
from sqlmodel import Session, col

from bot.storage.among import is_one_of
from bot.storage.db import plain
from bot.storage.public_ids import PublicIds
from bot.storage.stock import (
    ItemKey,
    correct_receipt_rows,
    counted_after,
    hold_item,
    last_receipt,
    record_receipt,
    stock_levels,
)
from bot.storage.tables import ProposalRow, ProposalTransitionRow
from vmi_rules.proposal import (
    OPEN_STATES,
    Actor,
    Proposal,
    ProposalState,
    Transition,
    TransitionRefused,
)
from vmi_rules.review import Rejection

IDS = PublicIds("P", "a proposal")
public_id = IDS.of  # P12 for row 12
row_id = IDS.row  # 12 for "P12"; None when it is not a proposal id


def as_rule(row: ProposalRow) -> Proposal:
    """The stored proposal as the rules see it."""
    assert row.id is not None
    return Proposal(
        id=public_id(row.id),
        sku=row.sku,
        qty=row.qty,
        state=ProposalState(row.state),
        urgent=row.urgent,
        received_qty=row.received_qty,
        shipped_qty=row.shipped_qty,
        eta=row.eta,
        reject_reason=row.reject_reason,
        decided_by=row.decided_by,
    )


def open_proposals(
    session: Session, agreement_ids: Collection[str] | None = None
) -> dict[ItemKey, list[ProposalRow]]:
    """Open proposals (proposed, confirmed, shipped) per item, in one query."""
    query = _open_query(agreement_ids is not None)
    found: dict[ItemKey, list[ProposalRow]] = defaultdict(list)
    for row in session.scalars(query, {"agreement_ids": list(agreement_ids or ())}):
        found[(row.agreement_id, row.sku)].append(row)
    return found


def open_ids(session: Session, agreement_id: str) -> dict[str, list[int]]:
    """The row ids of one agreement's open proposals per sku, oldest first: what a reply to a
    count names ("P3 open"), read as plain values, not proposals."""
    found: dict[str, list[int]] = defaultdict(list)
    for sku, proposal_id in plain(session).execute(_OPEN_IDS, {"agreement_id": agreement_id}):
        found[sku].append(cast(int, proposal_id))  # a stored row has its id
    return found


# built once: every count's reply reads it
_OPEN_IDS = (
    select(col(ProposalRow.sku), col(ProposalRow.id))
    .where(
        col(ProposalRow.agreement_id) == bindparam("agreement_id"),
        is_one_of(col(ProposalRow.state), sorted(s.value for s in OPEN_STATES)),
    )
    .order_by(col(ProposalRow.id))
)


@cache
def _open_query(by_agreement: bool) -> Select[ProposalRow]:
    """The query of `open_proposals`, built once: every message's reply reads it."""
    query = select(ProposalRow).where(col(ProposalRow.state).in_([s.value for s in OPEN_STATES]))
    if by_agreement:
        query = query.where(
            col(ProposalRow.agreement_id).in_(bindparam("agreement_ids", expanding=True))
        )
    return query.order_by(col(ProposalRow.id))


def last_rejections(session: Session, agreement_ids: Collection[str]) -> dict[ItemKey, Rejection]:
    """Per item, the rejection of its last closed regular proposal, when that one was rejected
    by the buyer or declined by the supplier (a later one received, expired or cancelled makes
    it old news)."""
    closed = select(ProposalRow).where(
        col(ProposalRow.agreement_id).in_(list(agreement_ids)),
        col(ProposalRow.state).not_in([s.value for s in OPEN_STATES]),
        col(ProposalRow.urgent).is_(False),
    )
    last: dict[ItemKey, ProposalRow] = {}
    for row in session.scalars(closed.order_by(col(ProposalRow.id))):
        last[(row.agreement_id, row.sku)] = row
    turned_down = (ProposalState.REJECTED.value, ProposalState.DECLINED.value)
    rejected = {r.id: key for key, r in last.items() if r.state in turned_down}
    if not rejected:
        return {}
    found: dict[ItemKey, Rejection] = {}
    steps_of_them = select(ProposalTransitionRow).where(
        col(ProposalTransitionRow.proposal_id).in_(list(rejected)),
        col(ProposalTransitionRow.action).in_(("reject", "decline")),
    )
    for step in session.scalars(steps_of_them):
        found[rejected[step.proposal_id]] = Rejection(
            proposal_id=public_id(step.proposal_id),
            reason=step.note,
            at=step.at,
            position=step.qty,
            declined=step.action == "decline",
        )
    return found


def get(session: Session, public: str) -> ProposalRow | None:
    """The stored proposal with this public id, read afresh from the database."""
    rid = row_id(public)
    if rid is None:
        return None
    return session.scalars(
        select(ProposalRow)
        .where(col(ProposalRow.id) == rid)
        .execution_options(populate_existing=True)
    ).one_or_none()


def log_creation(session: Session, row: ProposalRow, by: Actor, at: datetime) -> None:
    """The first line of a proposal's log: who proposed it (usually the review)."""
    session.add(ProposalTransitionRow(**_creation(row, by, at)))


def create_all(
    session: Session, proposals: list[dict[str, Any]], by: Actor, at: datetime
) -> list[ProposalRow]:
    """Store new proposals (their columns), each with the first line of its log, in one
    statement for the proposals and one for their logs (a review makes thousands); the rows
    stored, in the order given."""
    if not proposals:
        return []
    rows = list(session.scalars(_INSERT_PROPOSALS, proposals))
    plain(session).execute(_INSERT_TRANSITIONS, [_creation(row, by, at) for row in rows])
    return rows


def _creation(row: ProposalRow, by: Actor, at: datetime) -> dict[str, Any]:
    assert row.id is not None
    return {
        "proposal_id": row.id,
        "action": "propose",
        "from_state": None,
        "to_state": row.state,
        "member_id": None if by.role == "system" else by.member_id,
        "by_name": by.name,
        "qty": row.qty,
        "note": row.reason,
        "at": at,
    }


# built once; the rows come back as the session's objects, in the order they were given
_INSERT_PROPOSALS = insert(ProposalRow).returning(ProposalRow, sort_by_parameter_order=True)
_INSERT_TRANSITIONS = insert(ProposalTransitionRow)


def apply(
    session: Session,
    row: ProposalRow,
    transition: Transition,
    inbox_id: int | None = None,
    reverses_id: int | None = None,
) -> bool:
    """Store a transition if the row is still as the rules saw it; False when someone was first
    (`inbox_id`: the message that took it; `reverses_id`: for an undo, the step taken back)."""
    assert row.id is not None
    after = transition.after
    statement = (
        update(ProposalRow)
        .where(
            col(ProposalRow.id) == row.id,
            col(ProposalRow.state) == transition.before.state.value,
            col(ProposalRow.version) == row.version,
        )
        .values(
            state=after.state.value,
            qty=after.qty,
            received_qty=after.received_qty,
            shipped_qty=after.shipped_qty,
            eta=after.eta,
            reject_reason=after.reject_reason,
            decided_by=after.decided_by,
            version=row.version + 1,
            updated_at=transition.at,
        )
        .execution_options(synchronize_session=False)
    )
    # An UPDATE gives a CursorResult, which has the rowcount; Session.execute is typed for any
    # statement and promises only a Result.
    result = cast("CursorResult[Any]", session.execute(statement))
    if result.rowcount != 1:
        return False
    by = transition.by
    session.add(
        ProposalTransitionRow(
            proposal_id=row.id,
            action=transition.action,
            from_state=transition.before.state.value,
            to_state=after.state.value,
            member_id=None if by.role == "system" else by.member_id,
            by_name=by.name,
            qty=transition.qty,
            note=transition.note,
            at=transition.at,
            inbox_id=inbox_id,
            reverses_id=reverses_id,
        )
    )
    return True


def act(
    session: Session,
    public: str,
    action: str,
    actor: Actor,
    at: datetime,
    inbox_id: int | None = None,
    shown_qty: int | None = None,
    **options: object,
) -> tuple[ProposalRow, Transition]:
    """Do `action` (confirm, adjust, reject, decline, cancel, ship, change_eta, receive, expire)
    on a proposal, once.

    Raises `LookupError` for an unknown id and `TransitionRefused` when the rules say no
    (wrong role, already done by someone, not possible from this state, bad quantity).
    `shown_qty`: the quantity on the card whose button was pressed; a proposal resized since
    (even while this waited for it) raises `CardChanged` instead of being confirmed at a
    quantity nobody saw.
    A receipt also writes its ledger row, in the same transaction.
    """
    if action == "receive":  # the item before the proposal, the order a count takes them in
        receiving = get(session, public)
        if receiving is not None:
            hold_item(session, receiving.agreement_id, receiving.sku)
    for _ in range(3):
        found = get(session, public)
        if found is None:
            raise LookupError(public)
        row = found
        if (
            shown_qty is not None
            and row.state == ProposalState.PROPOSED.value
            and row.qty != shown_qty
        ):
            raise CardChanged(row.qty)
        proposal = as_rule(row)
        if action == "expire":
            transition = proposal.expire(at)
        else:
            method = "change_eta" if action == "eta" else action  # the step's name in the rules
            transition = getattr(proposal, method)(actor, at=at, **options)
        if apply(session, row, transition, inbox_id=inbox_id):
            if action == "receive":
                record_receipt(
                    session,
                    row.agreement_id,
                    row.sku,
                    transition.qty,
                    at,
                    member_id=actor.member_id,
                    proposal_id=row.id,
                    inbox_id=inbox_id,
                )
            return get(session, public) or row, transition
    # Three lost races in a row means something keeps changing it; say so rather than loop.
    raise TransitionRefused("already", action, ProposalState(row.state), row.decided_by)


def latest_standing_step(session: Session, proposal_row_id: int) -> ProposalTransitionRow | None:
    """The proposal's latest step that stands: neither an undo nor taken back by one."""
    T = ProposalTransitionRow
    taken_back = select(col(T.reverses_id)).where(
        col(T.proposal_id) == proposal_row_id, col(T.reverses_id).is_not(None)
    )
    return session.scalars(
        select(T)
        .where(
            col(T.proposal_id) == proposal_row_id,
            col(T.action) != "undo",
            col(T.id).not_in(taken_back),
        )
        .order_by(col(T.id).desc())
        .limit(1)
    ).first()


class CardChanged(Exception):
    """The card pressed showed another quantity than the proposal has now (`qty`)."""

    def __init__(self, qty: int) -> None:
        super().__init__(f"the proposal is {qty} now")
        self.qty = qty


class ReceiptNotCorrected(Exception):
    """A receipt correction that cannot be made: `reason` names the refusal, `context` its
    figures."""

    def __init__(self, reason: str, **context: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context = context


def correct_receipt(
    session: Session, row: ProposalRow, qty: int, actor: Actor, at: datetime,
    inbox_id: int | None = None,
) -> tuple[ProposalRow, Transition, int]:  # fmt: skip
    """Put the proposal's latest receipt right: it was `qty`. A reversal of the wrong receipt
    and a receipt of `qty` in its place, and the proposal's received quantity and state follow,
    in one guarded step; the proposal after, the step, and the wrong quantity.

    Raises `ReceiptNotCorrected` ("no_receipt"; "receipt_counted": a count since already holds
    what is on the shelf; "receipt_short": the book would go below zero) and
    `TransitionRefused` ("over_receipt", wrong role).
    """
    assert row.id is not None
    hold_item(session, row.agreement_id, row.sku)  # what is checked next stays so until written
    row = get(session, public_id(row.id)) or row  # as it is now: a receipt may have come meanwhile
    assert row.id is not None
    wrong = last_receipt(session, row.id)
    if wrong is None:
        raise ReceiptNotCorrected("no_receipt")
    counted = counted_after(session, wrong)
    if counted is not None:
        raise ReceiptNotCorrected("receipt_counted", later=counted.at)
    level = stock_levels(session, [row.agreement_id], [row.sku]).get((row.agreement_id, row.sku))
    on_hand = (level.on_hand if level else 0) - wrong.qty + qty
    if on_hand < 0:
        raise ReceiptNotCorrected("receipt_short", on_hand=on_hand)
    transition = as_rule(row).correct_receipt(actor, wrong.qty, qty, at)
    # the correction takes the place of the receipt step it puts right (undo then takes it back)
    step = latest_standing_step(session, row.id)
    corrected = step.id if step and step.action in ("receive", "correct_receipt") else None
    if not apply(session, row, transition, inbox_id=inbox_id, reverses_id=corrected):
        raise TransitionRefused("already", "correct_receipt", ProposalState(row.state))
    correct_receipt_rows(session, wrong, qty, at, actor.member_id, inbox_id)
    return get(session, public_id(row.id)) or row, transition, wrong.qty


def steps(session: Session, proposal_row_id: int) -> list[ProposalTransitionRow]:
    """A proposal's log, first step first: proposed, then each step somebody took."""
    return list(
        session.scalars(
            select(ProposalTransitionRow)
            .where(col(ProposalTransitionRow.proposal_id) == proposal_row_id)
            .order_by(col(ProposalTransitionRow.id))
        )
    )
