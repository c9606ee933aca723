"""The stored state: who takes part, what was agreed, the stock ledger, proposals, plans, and
the inbox and outbox that make every write safe to repeat.

Parties, members, agreements and items mirror the configuration file (see `bot.storage.catalog`);
everything else is history and is never overwritten: a correction is a new ledger row, and
every proposal transition leaves a row in `proposal_transition`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Connection, Index, Table, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from bot.storage.db import DecimalText, UTCDateTime
from vmi_rules.proposal import OPEN_STATES, ProposalState

# ('proposed', 'confirmed', 'shipped'), in the rules' order, for the partial unique index
OPEN_STATES_SQL = "(" + ", ".join(f"'{s.value}'" for s in ProposalState if s in OPEN_STATES) + ")"


def _utc(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class PartyRow(SQLModel, table=True):
    """A company: the customer (客户) or a supplier (供应商)."""

    __tablename__ = "party"
    id: str = Field(primary_key=True, max_length=64)
    name: str
    role: str = Field(max_length=16)
    active: bool = True


class MemberRow(SQLModel, table=True):
    """A person the bot talks to, with a role and an id per platform."""

    __tablename__ = "member"
    id: str = Field(primary_key=True, max_length=64)
    name: str
    party_id: str | None = Field(default=None, max_length=64)
    role: str = Field(max_length=16)
    console: str | None = None
    slack: str | None = None
    wecom: str | None = None
    locale: str | None = Field(default=None, max_length=8)
    active: bool = True


class AgreementRow(SQLModel, table=True):
    """A VMI agreement (VMI 协议) between a customer and a supplier."""

    __tablename__ = "agreement"
    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=64)
    supplier_id: str = Field(max_length=64)
    timezone: str = Field(max_length=64)
    review_time: str = Field(max_length=5)
    review_every_days: int
    plan_due_day: int
    settlement_day: int
    overstock_days: int
    emergency_notice_hours: int
    emergency_freight_customer_share: Decimal = Field(
        sa_column=Column(DecimalText(), nullable=False)
    )
    slack_channel: str | None = None
    wecom_chat: str | None = None
    active: bool = True


class ItemRow(SQLModel, table=True):
    """An item (物料) of an agreement with its reorder point and order-up-to level."""

    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("agreement_id", "sku", name="uq_item_agreement_sku"),)
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(foreign_key="agreement.id", max_length=64)
    sku: str = Field(max_length=64)
    name: str
    aliases: str = "[]"  # JSON list
    unit: str = Field(max_length=16)
    min: int
    max: int
    pack_size: int
    moq: int
    rounding: str = Field(max_length=8)
    unit_price: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    lead_time_days: int
    active: bool = True


class LedgerRow(SQLModel, table=True):
    """One stock movement (库存台账): count, receipt, withdrawal or adjustment, or a reversal.

    `id` is the ledger order. A withdrawal inferred from a count is stored just before that
    count with `inferred` set; a count above the book with no receipt keeps the gain in
    `anomaly_gain` (rule 7). A `reversal` takes back the row it names in `reverses_id` (a
    count typed wrong, an entry undone): both stay, and every figure reads as if neither were
    there.
    """

    __tablename__ = "ledger"
    __table_args__ = (
        Index("ix_ledger_item_kind", "agreement_id", "sku", "kind", "id"),
        Index("ix_ledger_item", "agreement_id", "sku", "id"),
        Index("ix_ledger_item_at", "agreement_id", "sku", "at"),
        Index("ix_ledger_reverses", "reverses_id", unique=True),  # a row is taken back once
    )
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    qty: int
    at: datetime = Field(sa_column=_utc())
    recorded_at: datetime = Field(sa_column=_utc())
    member_id: str | None = Field(default=None, max_length=64)
    proposal_id: int | None = None
    inbox_id: int | None = None
    inferred: bool = False
    anomaly_gain: int = 0
    reverses_id: int | None = None
    note: str = ""


class HeldCountRow(SQLModel, table=True):
    """A count that looks mistyped (90 → 9), kept out of the ledger until the keeper confirms
    it (then it is recorded as counted then) or puts it right; until then it bills nothing."""

    __tablename__ = "held_count"
    __table_args__ = (Index("ix_held_count_item", "agreement_id", "sku", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    qty: int
    reason: str = Field(max_length=32)  # vmi_rules.ledger.looks_mistyped
    at: datetime = Field(sa_column=_utc())
    member_id: str | None = Field(default=None, max_length=64)
    inbox_id: int | None = None
    after_id: int | None = None  # the item's latest ledger row when it was held
    state: str = Field(default="held", max_length=16)  # held | confirmed | superseded
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class ProposalRow(SQLModel, table=True):
    """A replenishment proposal (补货建议); public id `P{id}`."""

    __tablename__ = "proposal"
    __table_args__ = (
        # At most one open regular proposal per item: the last guard against a second
        # review (another process, a re-run) proposing the same thing twice.
        Index(
            "uq_proposal_open_regular",
            "agreement_id",
            "sku",
            unique=True,
            sqlite_where=text(f"state IN {OPEN_STATES_SQL} AND urgent = 0"),
            # postgresql_where: see _postgresql_partial_index below
        ),
        Index("ix_proposal_state", "state", "agreement_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    qty: int
    state: str = Field(max_length=16)
    urgent: bool = False
    received_qty: int = 0
    shipped_qty: int = 0  # shipped so far: a proposal may leave in parts
    reason: str = ""
    eta: date | None = None
    reject_reason: str = ""
    decided_by: str = ""
    version: int = 1
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


@event.listens_for(SQLModel.metadata.tables[ProposalRow.__tablename__], "before_create")
def _postgresql_partial_index(table: Table, connection: Connection, **_: object) -> None:
    """PostgreSQL's spelling of the partial index, added only when its DDL is emitted: naming
    it in the declaration would load the PostgreSQL dialect in every SQLite process (~50 ms
    of each command's start). The schema itself comes from the migrations, which name both."""
    if connection.dialect.name == "postgresql":
        index = next(i for i in table.indexes if i.name == "uq_proposal_open_regular")
        index.dialect_options["postgresql"]["where"] = text(
            f"state IN {OPEN_STATES_SQL} AND NOT urgent"
        )


class ProposalTransitionRow(SQLModel, table=True):
    """Who moved a proposal from which state to which, when (the proposal's log)."""

    __tablename__ = "proposal_transition"
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    action: str = Field(max_length=16)
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    member_id: str | None = Field(default=None, max_length=64)
    by_name: str = ""
    qty: int = 0
    note: str = ""
    at: datetime = Field(sa_column=_utc())
    inbox_id: int | None = None  # the message that took the step (undo takes the last one)
    reverses_id: int | None = None  # an undo: the step it takes back


class DemandPlanRow(SQLModel, table=True):
    """The buyer's demand plan (需求计划) for one item and period (`YYYY-MM` or `YYYY-Www`)."""

    __tablename__ = "demand_plan"
    __table_args__ = (
        UniqueConstraint("agreement_id", "sku", "period", name="uq_plan_item_period"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    period: str = Field(max_length=16)
    period_start: date
    period_end: date
    qty: int
    member_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(sa_column=_utc())


class PlanHistoryRow(SQLModel, table=True):
    """Every demand plan entry, with the plan it replaced, and every undo of one: the plan
    row holds the value now, this keeps how it got there (undo restores the one before)."""

    __tablename__ = "plan_history"
    __table_args__ = (Index("ix_plan_history_item", "agreement_id", "sku", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    period: str = Field(max_length=16)
    qty: int | None = None  # the plan after this entry; None: no plan for the period
    previous_qty: int | None = None  # the plan before it; None: there was none
    member_id: str | None = Field(default=None, max_length=64)
    inbox_id: int | None = None
    at: datetime = Field(sa_column=_utc())
    reverses_id: int | None = None  # an undo: the entry it takes back
    urgent: bool = False  # an urgent change (紧急), which also proposed the extra at once


class AmendmentRow(SQLModel, table=True):
    """A change of an item's terms proposed in chat (修改); public id `A{id}`. It applies once
    the other party agrees (state applied) and is kept whatever comes of it."""

    __tablename__ = "amendment"
    __table_args__ = (Index("ix_amendment_item", "agreement_id", "sku", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    state: str = Field(default="proposed", max_length=16)  # proposed | applied | rejected
    proposed_by: str = Field(max_length=64)  # member id
    proposed_side: str = Field(default="", max_length=16)  # customer | supplier | "" (admin)
    proposed_at: datetime = Field(sa_column=_utc())
    decided_by: str = Field(default="", max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    reject_reason: str = ""
    inbox_id: int | None = None


class AmendmentChangeRow(SQLModel, table=True):
    """One figure of an amendment: field, from, to, and the file's value it was made against
    (when the file's value later differs, the file wins and `superseded_at` says since when)."""

    __tablename__ = "amendment_change"
    id: int | None = Field(default=None, primary_key=True)
    amendment_id: int = Field(foreign_key="amendment.id", index=True)
    field: str = Field(max_length=16)  # min | max | pack_size | moq
    old: int
    new: int
    file_value: int
    superseded_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class InboxRow(SQLModel, table=True):
    """Every message or click that reached the bot, once per platform message id."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "platform_message_id", name="uq_inbox_platform_message"),
        Index("ix_inbox_waiting", "handled_at", "id"),
        # each chat's oldest waiting message, for the workers that take a chat at a time
        Index(
            "ix_inbox_chat_waiting",
            "platform",
            "chat",
            "id",
            sqlite_where=text("handled_at IS NULL"),
            postgresql_where=text("handled_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    platform_message_id: str = Field(max_length=255)
    chat: str = ""
    sender: str = ""
    text: str = ""
    action: str = ""  # a pressed button, "confirm:P1", when it was one
    incoming: str = ""  # the whole message as JSON, to handle it after the platform's answer
    received_at: datetime = Field(sa_column=_utc())
    handled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    error: str = ""  # why handling it failed, when it did


class OutboxRow(SQLModel, table=True):
    """A message waiting to go out, or gone: delivery reads from here, in order per chat."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key", name="uq_outbox_key"),
        Index("ix_outbox_pending", "state", "platform", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, max_length=255)  # repeat-safe writes share a key
    platform: str = Field(max_length=16)
    chat: str = Field(max_length=255)
    mode: str = Field(default="post", max_length=16)  # post | thread | update | ephemeral
    target_ref: str = ""  # the message to answer in a thread or to update in place
    recipient: str = ""  # who alone sees an ephemeral answer (their platform id)
    card: str  # JSON of a neutral card
    agreement_id: str | None = Field(default=None, max_length=64)
    proposal_id: int | None = None
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    last_error: str = ""
    platform_ref: str = ""  # e.g. Slack's channel+ts or WeCom's task id, to update a card later
    created_at: datetime = Field(sa_column=_utc())
    sent_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    claimed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # who is sending it: "host pid start", so a restarted process knows its predecessor's claim
    # is dead and sends at once, while another live process's claim is left alone
    claimed_by: str = Field(default="", max_length=255)


class HealthRow(SQLModel, table=True):
    """The health check's heartbeat: row 1 rewritten at each check (a rolled-back row 2 proves
    the file can grow)."""

    __tablename__ = "health"
    id: int | None = Field(default=None, primary_key=True)
    beat_at: datetime = Field(sa_column=_utc())
    filler: str = ""


class StatementRow(SQLModel, table=True):
    """A settlement statement (对账单); public id `S{id}`. One per agreement and period, however
    many processes draft it; `lines` is the JSON of its lines and adjustments as last issued."""

    __tablename__ = "statement"
    __table_args__ = (UniqueConstraint("agreement_id", "period_end", name="uq_statement_period"),)
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    period_start: datetime = Field(sa_column=_utc())
    period_end: datetime = Field(sa_column=_utc())
    state: str = Field(default="draft", max_length=16)  # vmi_rules.settlement.StatementState
    revision: int = 1
    lines: str = "[]"
    total: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    buyer_by: str = ""  # who signed for the customer (a name), empty until then
    buyer_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    supplier_by: str = ""
    supplier_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    locked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    version: int = 1
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class StatementEventRow(SQLModel, table=True):
    """A statement's log: issued, each confirmation, each dispute (who, when, why), re-issues."""

    __tablename__ = "statement_event"
    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="statement.id", index=True)
    action: str = Field(max_length=16)  # issue | confirm | dispute | reissue | lock
    revision: int
    side: str = Field(default="", max_length=16)
    member_id: str | None = Field(default=None, max_length=64)
    by_name: str = ""
    reason: str = ""
    total: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    at: datetime = Field(sa_column=_utc())


class OverstockAlertRow(SQLModel, table=True):
    """An overstock joint review (积压, rule 9): aged units above max, raised once for the lots
    it covers (up to `covers_until`, the newest aged lot's date), raised again at most once,
    and the one choice made on it (return, discount or keep watching: `overstock_decision`
    keeps each). People call it `O` and its id."""

    __tablename__ = "overstock_alert"
    __table_args__ = (
        # the same lots are alerted once, however many processes check at once
        UniqueConstraint("agreement_id", "sku", "covers_until", name="uq_overstock_lots"),
        Index("ix_overstock_item", "agreement_id", "sku", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    qty: int  # aged units when raised
    on_hand: int
    oldest_since: datetime = Field(sa_column=_utc())
    covers_until: datetime = Field(sa_column=_utc())
    unit_price: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    raised_at: datetime = Field(sa_column=_utc())
    repeated_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    choice: str | None = Field(default=None, max_length=16)  # return | discount | keep
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class OverstockDecisionRow(SQLModel, table=True):
    """A choice made on an overstock alert: who, when, which; a return's ledger row, a
    discount's units and agreed price (billed at that price by the next statement)."""

    __tablename__ = "overstock_decision"
    __table_args__ = (Index("ix_overstock_decision_item", "agreement_id", "sku", "choice"),)
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    choice: str = Field(max_length=16)
    qty: int = 0
    unit_price: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    member_id: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_column=_utc())
    inbox_id: int | None = None
    ledger_id: int | None = None


class SheetImportRow(SQLModel, table=True):
    """A sheet of counts and plans sent in (导入); public id `I{id}`. Nothing of it is recorded
    until its sender confirms (pending → recorded, once); the same content is one row per
    agreement, so the same file twice records once."""

    __tablename__ = "sheet_import"
    __table_args__ = (
        UniqueConstraint("agreement_id", "content_hash", name="uq_sheet_import_content"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    content_hash: str = Field(max_length=64)  # sha256 of the file's bytes
    file_name: str = Field(max_length=200)
    member_id: str = Field(max_length=64)
    lines: str  # JSON of the lines read, as the preview showed them
    state: str = Field(default="pending", max_length=16)  # pending | recorded
    inbox_id: int | None = None
    created_at: datetime = Field(sa_column=_utc())
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    decided_by: str = Field(default="", max_length=64)


class SmartSheetDocRow(SQLModel, table=True):
    """An agreement's WeCom smart sheet (智能表格): the doc the bot created (an app may edit only
    its own), its sheet, the ids of its fields (JSON, title → field_id) and whom it was shared
    with (JSON). One row per agreement: the process holding its lease (`lease_owner` until
    `lease_until`) is the only one that creates or writes the doc, so it is created once."""

    __tablename__ = "smartsheet_doc"
    agreement_id: str = Field(primary_key=True, max_length=64)
    docid: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=500)
    sheet_id: str | None = Field(default=None, max_length=64)
    fields: str = ""  # JSON {title: field_id}, once the fields were added
    shared: str = ""  # JSON [[userid, auth], ...] as last shared
    state: str = Field(default="new", max_length=16)  # new | ready | failed
    reason: str = ""  # why it failed
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    retry_after: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class SmartSheetRecordRow(SQLModel, table=True):
    """One item's record in its agreement's smart sheet and what was last written to it (JSON,
    title → value), so that an unchanged row is not written again."""

    __tablename__ = "smartsheet_record"
    __table_args__ = (UniqueConstraint("agreement_id", "sku", name="uq_smartsheet_record_item"),)
    id: int | None = Field(default=None, primary_key=True)
    agreement_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    record_id: str = Field(max_length=64)
    written: str  # JSON {title: value} as last written
    written_at: datetime = Field(sa_column=_utc())
