"""The stock ledger in the database: record movements, and read on-hand levels set-wise.

On hand follows rule 1 exactly as `vmi_rules.ledger.on_hand` does: the latest count plus the
receipts, withdrawals and adjustments recorded after it (ledger order is the row id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from bot.storage.among import Among, among_of, bound, is_one_of, where_among
from bot.storage.db import plain
from bot.storage.tables import InboxRow, ItemRow, LedgerRow
from vmi_rules.ledger import CountOutcome, Movement, infer_from_count

ItemKey = tuple[str, str]  # (agreement id, sku)
# A ledger note: the platform's time for the message was out of bounds, the row is dated when
# the message reached us (see handlers.incoming.said_at).
DOUBTED_TIME = "platform time doubted: dated on receipt"


REVERSAL = "reversal"  # a row that takes back another (see LedgerRow)
OUTGOING = ("withdrawal", "return")  # the kinds that lower on hand by their quantity


def _live(row: type[LedgerRow]) -> ColumnElement[bool]:
    """The rows that count: neither a reversal nor taken back by one."""
    taken_back = aliased(LedgerRow)
    return and_(
        col(row.kind) != REVERSAL,
        ~exists().where(col(taken_back.reverses_id) == col(row.id)),
    )


@dataclass(frozen=True)
class StockLevel:
    """What the ledger says of one item now."""

    on_hand: int
    last_count_at: datetime | None


@dataclass(frozen=True)
class CountRecorded:
    """A stored count, with what was on the book before it and what it implied; for a
    correction, the withdrawal the wrong count had inferred and that is taken back (unbilled)."""

    count_id: int  # the count's ledger row
    book_on_hand: int | None
    outcome: CountOutcome
    unbilled: int = 0


class MovedSince(Exception):
    """A count can be put right only while nothing else of the item was recorded after it."""

    def __init__(self, kind: str, at: datetime) -> None:
        super().__init__(f"a {kind} was recorded after the count, at {at.isoformat()}")
        self.kind = kind
        self.at = at


def stock_levels(
    session: Session,
    agreement_ids: Collection[str] | None = None,
    skus: Collection[str] | None = None,
) -> dict[ItemKey, StockLevel]:
    """On hand and the time of the latest count of every item with ledger rows, in one query.

    Items come from the catalog (the `item` table, inactive ones included).
    """
    query = _levels_query(among_of(agreement_ids), among_of(skus))
    params = {"agreement_ids": bound(agreement_ids), "skus": bound(skus)}
    levels: dict[ItemKey, StockLevel] = {}
    for agreement_id, sku, total, last_count_at in plain(session).execute(query, params):
        if total is None:
            continue  # no live ledger rows: nothing to say of it
        if isinstance(last_count_at, str):  # SQLite hands back MAX() of a datetime as text
            last_count_at = datetime.fromisoformat(last_count_at).replace(tzinfo=UTC)
        elif last_count_at is not None and last_count_at.tzinfo is None:
            last_count_at = last_count_at.replace(tzinfo=UTC)
        levels[(agreement_id, sku)] = StockLevel(int(total or 0), last_count_at)
    return levels


@cache
def _levels_query(agreements: Among, skus: Among) -> Select[str, str, int, datetime]:
    """The query of `stock_levels`, built once (a count reads it, and building it costs more
    than running it); the agreements and skus are bound when it runs.

    Driven by the items, each one's figures by index look-ups of its own: its latest live
    count (newest first, one row: PostgreSQL would check every count of the item against
    `_live` for a MAX()), then only the rows from there on, instead of the item's whole
    history. An item with no live rows has no sum: `stock_levels` leaves it out.
    """
    L = LedgerRow

    def latest_count() -> ScalarSelect[int]:
        counts = aliased(LedgerRow)
        return (
            select(col(counts.id))
            .where(
                col(counts.agreement_id) == ItemRow.agreement_id,
                col(counts.sku) == ItemRow.sku,
                col(counts.kind) == "count",
                _live(counts),
            )
            .order_by(col(counts.id).desc())
            .limit(1)
            .correlate(ItemRow)
            .scalar_subquery()
        )

    signed_qty = case((is_one_of(col(L.kind), OUTGOING), -col(L.qty)), else_=col(L.qty))
    total = (
        select(func.sum(signed_qty))
        .where(
            col(L.agreement_id) == ItemRow.agreement_id,
            col(L.sku) == ItemRow.sku,
            col(L.id) >= func.coalesce(latest_count(), 0),
            _live(L),
        )
        .correlate(ItemRow)
        .scalar_subquery()
    )
    count = aliased(LedgerRow)
    count_at = (
        select(col(count.at))
        .where(col(count.id) == latest_count())
        .correlate(ItemRow)
        .scalar_subquery()
    )
    query = select(
        col(ItemRow.agreement_id), col(ItemRow.sku), total.label("total"), count_at.label("at")
    )
    query = where_among(query, col(ItemRow.agreement_id), "agreement_ids", agreements)
    return where_among(query, col(ItemRow.sku), "skus", skus)


def hold_item(session: Session, agreement_id: str, sku: str) -> None:
    """Lock the item's row until the transaction ends, so that its ledger writes take turns.

    Two counts at once must not both infer a withdrawal from the same book, and ledger order
    (the row id) must be commit order. SQLite's BEGIN IMMEDIATE serialises writers already,
    so there it reads nothing.
    """
    hold_items(session, agreement_id, [sku])


def hold_items(session: Session, agreement_id: str, skus: Collection[str]) -> None:
    """Lock several items of an agreement (see `hold_item`) in one statement, in sku order.

    Every path that holds more than one item takes them in this one order, before any other
    row of theirs (held counts, alerts), so two messages of the same items wait in line
    instead of each holding what the other wants (PostgreSQL would end one as a deadlock).
    """
    if not skus or session.get_bind().dialect.name == "sqlite":
        return
    in_order = sorted(set(skus))
    params = {"agreement": agreement_id, "skus": bound(in_order)}
    plain(session).execute(_hold_items_query(among_of(in_order)), params)


@cache
def _hold_items_query(skus: Among) -> Select[Any]:
    """The statement of `hold_items`, built once. LockRows runs above the sort, so the rows are
    locked in sku order."""
    query = select(col(ItemRow.id)).where(col(ItemRow.agreement_id) == bindparam("agreement"))
    query = where_among(query, col(ItemRow.sku), "skus", skus)
    return query.order_by(col(ItemRow.sku)).with_for_update()


def aged_quantities(
    session: Session,
    levels: dict[ItemKey, StockLevel],
    overstock_days: dict[str, int],
    now: datetime,
) -> dict[ItemKey, int]:
    """Units on hand for `overstock_days` or more (rule 9), per item, in one query per limit.

    First in, first out leaves the newest units on the shelf, so what is aged is on hand less
    everything that came in within the limit (receipts, additions, a first count, count gains):
    the same figure as `vmi_rules.aging.aged_qty`, without reading the whole history.
    """
    L = LedgerRow
    first_count = (
        select(func.min(L.id))
        .where(
            col(L.agreement_id) == ItemRow.agreement_id,
            col(L.sku) == ItemRow.sku,
            col(L.kind) == "count",
            _live(L),
        )
        .correlate(ItemRow)
        .scalar_subquery()
    )
    came_in = case(
        (col(L.kind) == "receipt", col(L.qty)),
        (and_(col(L.kind) == "adjustment", col(L.qty) > 0), col(L.qty)),
        (and_(col(L.kind) == "count", col(L.id) == first_count), col(L.qty)),
        (col(L.kind) == "count", col(L.anomaly_gain)),
        else_=0,
    )
    recent: dict[ItemKey, int] = {}
    by_limit: dict[int, list[str]] = defaultdict(list)
    for agreement_id, days in overstock_days.items():
        by_limit[days].append(agreement_id)
    for days, agreement_ids in by_limit.items():
        query = (
            select(col(ItemRow.agreement_id), col(ItemRow.sku), func.sum(came_in))
            .select_from(ItemRow)
            .join(
                L,
                and_(
                    col(L.agreement_id) == ItemRow.agreement_id,
                    col(L.sku) == ItemRow.sku,
                ),
            )
            .where(
                col(ItemRow.agreement_id).in_(agreement_ids),
                col(L.at) > now - timedelta(days=days),
                _live(L),
            )
            .group_by(col(ItemRow.agreement_id), col(ItemRow.sku))
        )
        for agreement_id, sku, qty in session.execute(query):
            recent[(agreement_id, sku)] = int(qty or 0)
    return {
        key: max(0, level.on_hand - recent.get(key, 0))
        for key, level in levels.items()
        if key[0] in overstock_days
    }


def book_before_count(session: Session, agreement_id: str, sku: str) -> int | None:
    """What the ledger says before a new count: None when the item was never counted."""
    return book_of(stock_levels(session, [agreement_id], [sku]).get((agreement_id, sku)))


def book_of(level: StockLevel | None) -> int | None:
    """The book a count is judged against: None when the item was never counted."""
    if level is None or level.last_count_at is None:
        return None
    return level.on_hand


def record_count(
    session: Session,
    agreement_id: str,
    sku: str,
    counted: int,
    at: datetime,
    member_id: str | None = None,
    inbox_id: int | None = None,
    correction: bool = False,
    time_doubted: bool = False,
    levels: Mapping[ItemKey, StockLevel] | None = None,
) -> CountRecorded:
    """Store a stock count (盘点); a drop since the book is first stored as a withdrawal.

    A `correction` (更正: the latest count was typed wrong) takes that count back with the
    withdrawal it inferred, so nothing of the typo stays billed, and records the right figure
    in its place, judged against the book as it was before the wrong count. It raises
    `MovedSince` when something else of the item was recorded after that count. `time_doubted`:
    the platform's time for the message was out of bounds and `at` is when it reached us; the
    rows say so. `levels`: the item's level as read after `hold_item` in this transaction, so
    the book is not read again (a correction reads it after taking the wrong count back).
    """
    doubted = [DOUBTED_TIME] if time_doubted else []
    if levels is None:  # else the caller holds the item already: it read them under the lock
        hold_item(session, agreement_id, sku)
    unbilled = 0
    if correction:
        wrong = _latest_live(session, agreement_id, sku, kinds=("count",))
        if wrong is not None:
            unbilled = _take_back_count(session, wrong, at, member_id, inbox_id, "correction")
            at = wrong.at  # the count put right was made then
    if levels is None or correction:
        book = book_before_count(session, agreement_id, sku)
    else:
        book = book_of(levels.get((agreement_id, sku)))
    outcome = infer_from_count(book, counted)
    if outcome.withdrawn:
        _add(
            session,
            agreement_id,
            sku,
            "withdrawal",
            outcome.withdrawn,
            at,
            member_id,
            inbox_id,
            inferred=True,
            note="; ".join(["inferred from count", *doubted]),
        )
    count_id = _add(
        session,
        agreement_id,
        sku,
        "count",
        counted,
        at,
        member_id,
        inbox_id,
        anomaly_gain=outcome.gain,
        note="; ".join((["correction"] if correction else []) + doubted),
    )
    return CountRecorded(count_id, book, outcome, unbilled)


def _latest_live(
    session: Session, agreement_id: str, sku: str, kinds: Collection[str] | None = None
) -> LedgerRow | None:
    """The item's latest row that counts (of `kinds`, when given)."""
    query = select(LedgerRow).where(
        col(LedgerRow.agreement_id) == agreement_id, col(LedgerRow.sku) == sku, _live(LedgerRow)
    )
    if kinds is not None:
        query = query.where(col(LedgerRow.kind).in_(list(kinds)))
    return session.scalars(query.order_by(col(LedgerRow.id).desc()).limit(1)).first()


@dataclass(frozen=True)
class Undone:
    """An entry taken back by the one who made it: what it was (count, withdrawal, receipt),
    and for a count the withdrawal it had inferred, taken back with it (no longer billed)."""

    kind: str
    sku: str
    qty: int
    unbilled: int


def last_own_row(
    session: Session,
    agreement_id: str,
    member_id: str,
    since: datetime,
    kinds: Collection[str] = ("count", "withdrawal", "receipt"),
) -> LedgerRow | None:
    """The member's last entry in the ledger said since `since` (a back-dated one counts by the
    time it was said) and not taken back; inferred withdrawals go with their count."""
    return session.scalars(
        select(LedgerRow)
        .where(
            col(LedgerRow.agreement_id) == agreement_id,
            col(LedgerRow.member_id) == member_id,
            col(LedgerRow.kind).in_(list(kinds)),
            col(LedgerRow.inferred).is_(False),
            or_(col(LedgerRow.at) >= since, _said_since(since)),
            _live(LedgerRow),
        )
        .order_by(col(LedgerRow.id).desc())
        .limit(1)
    ).first()


def check_latest(session: Session, row: LedgerRow) -> None:
    """Raise `MovedSince` when something of the item was recorded after `row` (which then can
    no longer be taken back alone); holds the item for the rest of the transaction."""
    hold_item(session, row.agreement_id, row.sku)
    latest = _latest_live(session, row.agreement_id, row.sku)
    if latest is not None and latest.id != row.id:
        raise MovedSince(latest.kind, latest.at)


def take_back_row(
    session: Session, mine: LedgerRow, at: datetime, inbox_id: int | None = None
) -> Undone:
    """Reverse one entry of the ledger (a count with the withdrawal it inferred); raises
    `MovedSince` when something else of the item was recorded after it."""
    hold_item(session, mine.agreement_id, mine.sku)
    if mine.kind == "count":
        unbilled = _take_back_count(session, mine, at, mine.member_id, inbox_id, "undo")
        return Undone("count", mine.sku, mine.qty, unbilled)
    check_latest(session, mine)
    _add(session, mine.agreement_id, mine.sku, REVERSAL, mine.qty, at, mine.member_id, inbox_id,
         reverses_id=mine.id, note=f"undo: takes back ledger row {mine.id}")  # fmt: skip
    return Undone(mine.kind, mine.sku, mine.qty, mine.qty if mine.kind == "withdrawal" else 0)


def correct_receipt_rows(
    session: Session,
    wrong: LedgerRow,
    qty: int,
    at: datetime,
    member_id: str | None,
    inbox_id: int | None = None,
) -> int:
    """Put a receipt typed wrong right: a row reversing it and a receipt of `qty` in its
    place, dated when the goods came (nothing deleted); the new receipt's ledger row id."""
    hold_item(session, wrong.agreement_id, wrong.sku)
    note = f"receipt corrected: takes back ledger row {wrong.id}"
    _add(session, wrong.agreement_id, wrong.sku, REVERSAL, wrong.qty, at, member_id, inbox_id,
         reverses_id=wrong.id, note=note)  # fmt: skip
    return _add(session, wrong.agreement_id, wrong.sku, "receipt", qty, wrong.at, member_id,
                inbox_id, proposal_id=wrong.proposal_id,
                note=f"correction of ledger row {wrong.id}: {wrong.qty} -> {qty}")  # fmt: skip


def last_receipt(session: Session, proposal_row_id: int) -> LedgerRow | None:
    """A proposal's latest receipt that counts, or None when nothing of it was received."""
    return session.scalars(
        select(LedgerRow)
        .where(
            col(LedgerRow.proposal_id) == proposal_row_id,
            col(LedgerRow.kind) == "receipt",
            _live(LedgerRow),
        )
        .order_by(col(LedgerRow.id).desc())
        .limit(1)
    ).first()


def counted_after(session: Session, row: LedgerRow) -> LedgerRow | None:
    """The item's latest live count recorded after `row`, or None."""
    count = _latest_live(session, row.agreement_id, row.sku, kinds=("count",))
    return count if count is not None and (count.id or 0) > (row.id or 0) else None


def latest_row_id(session: Session, agreement_id: str, sku: str) -> int | None:
    """The id of the item's latest row that counts (to tell later whether anything came
    since), or None when it has none."""
    latest = _latest_live(session, agreement_id, sku)
    return latest.id if latest is not None else None


def _said_since(since: datetime) -> ColumnElement[bool]:
    """Rows from a message of today, whatever day they are booked on ("昨天 领用 6205 5")."""
    return exists().where(
        col(InboxRow.id) == col(LedgerRow.inbox_id), col(InboxRow.received_at) >= since
    )


def recorded_after(
    session: Session,
    agreement_id: str,
    sku: str,
    at: datetime,
    kinds: Collection[str] | None = None,
) -> LedgerRow | None:
    """The item's latest live row dated after `at` (of `kinds`, when given): what a back-dated
    entry would land before."""
    query = select(LedgerRow).where(
        col(LedgerRow.agreement_id) == agreement_id,
        col(LedgerRow.sku) == sku,
        col(LedgerRow.at) > at,
        _live(LedgerRow),
    )
    if kinds is not None:
        query = query.where(col(LedgerRow.kind).in_(list(kinds)))
    return session.scalars(query.order_by(col(LedgerRow.at).desc()).limit(1)).first()


def movement_after_count(session: Session, agreement_id: str, sku: str) -> LedgerRow | None:
    """What was recorded of the item after its latest count (which then can no longer be
    corrected), or None."""
    latest = _latest_live(session, agreement_id, sku)
    if latest is None or latest.kind == "count":
        return None
    count = _latest_live(session, agreement_id, sku, kinds=("count",))
    return latest if count is not None and (latest.id or 0) > (count.id or 0) else None


def _take_back_count(
    session: Session,
    wrong: LedgerRow,
    at: datetime,
    member_id: str | None,
    inbox_id: int | None,
    why: str,
) -> int:
    """Reverse a count and the withdrawal inferred from it (stored just before it); the
    quantity that is no longer billed."""
    latest = _latest_live(session, wrong.agreement_id, wrong.sku)
    if latest is not None and latest.id != wrong.id:
        raise MovedSince(latest.kind, latest.at)
    before = session.scalars(
        select(LedgerRow)
        .where(
            col(LedgerRow.agreement_id) == wrong.agreement_id,
            col(LedgerRow.sku) == wrong.sku,
            col(LedgerRow.id) < wrong.id,
        )
        .order_by(col(LedgerRow.id).desc())
        .limit(1)
    ).first()
    inferred = before if before is not None and before.inferred else None
    for row in (inferred, wrong):
        if row is not None:
            note = f"{why}: takes back ledger row {row.id}"
            _add(session, row.agreement_id, row.sku, REVERSAL, row.qty, at, member_id, inbox_id,
                 reverses_id=row.id, note=note)  # fmt: skip
    return inferred.qty if inferred is not None else 0


def record_receipt(
    session: Session,
    agreement_id: str,
    sku: str,
    qty: int,
    at: datetime,
    member_id: str | None = None,
    proposal_id: int | None = None,
    inbox_id: int | None = None,
) -> int:
    """Store goods received into the VMI area (入库); the ledger row's id."""
    hold_item(session, agreement_id, sku)
    return _add(
        session, agreement_id, sku, "receipt", qty, at, member_id, inbox_id, proposal_id=proposal_id
    )


def record_withdrawal(
    session: Session,
    agreement_id: str,
    sku: str,
    qty: int,
    at: datetime,
    member_id: str | None = None,
    inbox_id: int | None = None,
    time_doubted: bool = False,
) -> int:
    """Store a withdrawal (领用) posted explicitly (`time_doubted`: as for a count); the ledger
    row's id."""
    hold_item(session, agreement_id, sku)
    note = DOUBTED_TIME if time_doubted else ""
    return _add(session, agreement_id, sku, "withdrawal", qty, at, member_id, inbox_id, note=note)


def movements_by_item(
    session: Session,
    agreement_ids: Collection[str],
    kinds: Collection[str] | None = None,
    since: datetime | None = None,
) -> dict[ItemKey, list[Movement]]:
    """Every live movement (none taken back, no reversal) of the agreements' items in ledger
    order, in one query (for aging); only
    those of `kinds` dated at or after `since`, when given (a statement's withdrawals)."""
    query = (
        select(
            col(LedgerRow.agreement_id),
            col(LedgerRow.sku),
            col(LedgerRow.kind),
            col(LedgerRow.qty),
            col(LedgerRow.at),
        )
        .where(col(LedgerRow.agreement_id).in_(list(agreement_ids)), _live(LedgerRow))
        .order_by(col(LedgerRow.id))
    )
    if kinds is not None:
        query = query.where(col(LedgerRow.kind).in_(list(kinds)))
    if since is not None:
        query = query.where(col(LedgerRow.at) >= since)
    rows = session.execute(query)
    found: dict[ItemKey, list[Movement]] = defaultdict(list)
    for agreement_id, sku, kind, qty, at in rows:
        found[(agreement_id, sku)].append(Movement(kind, qty, at))
    return found


def _add(
    session: Session,
    agreement_id: str,
    sku: str,
    kind: str,
    qty: int,
    at: datetime,
    member_id: str | None,
    inbox_id: int | None,
    *,
    proposal_id: int | None = None,
    inferred: bool = False,
    anomaly_gain: int = 0,
    note: str = "",
    reverses_id: int | None = None,
) -> int:
    """Write one ledger row; its id (the ledger order)."""
    values = {
        "agreement_id": agreement_id,
        "sku": sku,
        "kind": kind,
        "qty": qty,
        "at": at,
        "recorded_at": datetime.now(UTC),
        "member_id": member_id,
        "inbox_id": inbox_id,
        "proposal_id": proposal_id,
        "inferred": inferred,
        "anomaly_gain": anomaly_gain,
        "note": note,
        "reverses_id": reverses_id,
    }
    # a plain insert of plain values, neither the ORM's unit of work nor a model object (each
    # was a fifth of handling a count): the row is written now, so later reads in this
    # transaction see it
    ledger_id = plain(session).execute(_INSERT_LEDGER_ROW, values).scalar_one()
    assert ledger_id is not None  # a primary key, given by the database
    return ledger_id


# built once: every count, receipt and withdrawal goes through it
_INSERT_LEDGER_ROW = insert(LedgerRow).returning(col(LedgerRow.id))


def record_return(
    session: Session,
    agreement_id: str,
    sku: str,
    qty: int,
    at: datetime,
    member_id: str | None = None,
    inbox_id: int | None = None,
    note: str = "",
) -> int:
    """Store units sent back to the supplier (退货): on hand falls, the oldest units go, and
    nothing is billed (a return is not a withdrawal); the ledger row's id."""
    hold_item(session, agreement_id, sku)
    return _add(session, agreement_id, sku, "return", qty, at, member_id, inbox_id, note=note)


def last_counts(
    session: Session, agreement_id: str, skus: Sequence[str]
) -> dict[str, datetime | None]:
    """Each item's latest count (None: never counted), in the order of `skus`: 谁没盘点."""
    levels = stock_levels(session, [agreement_id])
    found = {sku: levels.get((agreement_id, sku)) for sku in skus}
    return {sku: level.last_count_at if level else None for sku, level in found.items()}
