"""What a chat message means once read: one of the intents, or a `Refusal` saying why not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from vmi_rules.periods import Period


@dataclass(frozen=True)
class ItemQty:
    """One item and a quantity, in the item's unit."""

    sku: str
    qty: int


@dataclass(frozen=True)
class Count:
    """A stock count (库存 / 盘点 / stock): what is on the shelf now, one line per item.

    `on` is the day it was counted when the keeper names an earlier one ("昨天 6205 库存 80").
    """

    lines: tuple[ItemQty, ...]
    on: date | None = None


@dataclass(frozen=True)
class Correction:
    """A count typed wrong, put right (更正): the level is set, and no withdrawal is inferred."""

    lines: tuple[ItemQty, ...]


@dataclass(frozen=True)
class Withdrawal:
    """Parts taken out of the VMI area (领用 / used); `on` a day named before today."""

    lines: tuple[ItemQty, ...]
    on: date | None = None


@dataclass(frozen=True)
class Receipt:
    """A proposal's goods arrived (入库 / received); `qty` is set for a partial receipt."""

    proposal_id: str
    qty: int | None = None


@dataclass(frozen=True)
class CorrectReceipt:
    """A receipt typed wrong, put right (更正入库 P3 25 / correct receipt P3 25): `qty` is what
    that receipt really was."""

    proposal_id: str
    qty: int


@dataclass(frozen=True)
class Plan:
    """The buyer's demand plan for one item and period (需求计划)."""

    sku: str
    period: Period
    qty: int


@dataclass(frozen=True)
class Emergency:
    """An urgent change of demand (紧急需求): the new requirement for the period."""

    sku: str
    period: Period
    qty: int


Action = Literal["confirm", "adjust", "reject", "ship", "decline", "cancel", "eta"]


@dataclass(frozen=True)
class ProposalAction:
    """A buyer's or supplier's answer to a replenishment proposal.

    `adjust` carries the new quantity (adjusting also confirms, DESIGN §3.5), `reject` a reason,
    `ship` an optional quantity and ETA.
    """

    action: Action
    proposal_id: str
    qty: int | None = None
    reason: str = ""
    eta: date | None = None


@dataclass(frozen=True)
class Status:
    """A question about stock and proposals; `sku` None means every item. `entry_asked`: an
    entry put as a question ("6205 库存 45?"), answered with the figures and not recorded."""

    sku: str | None = None
    entry_asked: bool = False


@dataclass(frozen=True)
class Todo:
    """待办 / pending: the proposals waiting for the one who asks."""


@dataclass(frozen=True)
class History:
    """P1 / P1到哪了 / P1 status: one proposal's steps, who took them, when."""

    proposal_id: str


@dataclass(frozen=True)
class Undo:
    """撤销 / undo: take back my last entry of today."""


@dataclass(frozen=True)
class Courtesy:
    """谢谢 / 好的 / 收到 / thanks / 👍: manners, nothing to act on; `agrees` for a yes
    (是, 好的, yes, ok), which confirms a count held as mistyped when one waits."""

    agrees: bool = False


@dataclass(frozen=True)
class ConfirmCount:
    """A held count confirmed: its button ("6205@9"), or a yes; None confirms all of the
    member's held counts."""

    sku: str | None = None
    qty: int | None = None


@dataclass(frozen=True)
class Help:
    """帮助 / help / ?"""


@dataclass(frozen=True)
class Retro:
    """复盘 / review: the month in figures; `month` "YYYY-MM", None for the last one closed."""

    month: str | None = None


@dataclass(frozen=True)
class Export:
    """导出 / export: the shared sheet as an Excel workbook; `month` limits its ledger."""

    month: str | None = None


@dataclass(frozen=True)
class SheetSent:
    """A sheet sent as a file (.xlsx or .csv): its name and bytes, to read and show first."""

    name: str
    data: bytes


@dataclass(frozen=True)
class ConfirmImport:
    """确认导入 / confirm import: record the sheet waiting (or the one named, I3)."""

    import_id: str | None = None


@dataclass(frozen=True)
class Suggest:
    """建议 6205 / suggest 6205: the suggested min and max from the withdrawals; `sku` None
    for every item."""

    sku: str | None = None


@dataclass(frozen=True)
class ReviewNow:
    """Run the replenishment review now (检查 / check)."""


StatementStep = Literal["confirm", "dispute", "reissue"]


@dataclass(frozen=True)
class StatementAction:
    """A side's answer to a settlement statement: confirm it, dispute it (with a reason) or
    re-issue it after a correction. `revision` is the one a pressed card showed."""

    action: StatementStep
    statement_id: str
    reason: str = ""
    revision: int | None = None


@dataclass(frozen=True)
class StatementQuery:
    """对账 / statement: the open statement (or the one named), who confirmed, the total."""

    statement_id: str = ""


OverstockChoiceKind = Literal["return", "discount", "keep"]


@dataclass(frozen=True)
class OverstockChoice:
    """The choice on an overstock alert (积压 O1): 退货 O1 20 (units back to the supplier),
    折价 O1 10.00 (a price per unit), 继续观察 O1 (keep watching)."""

    choice: OverstockChoiceKind
    alert_id: str
    qty: int | None = None
    price: Decimal | None = None


AmendField = Literal[
    "min", "max", "pack_size", "moq", "count_at", "weekly_plan_at", "monthly_plan_at"
]


@dataclass(frozen=True)
class Amend:
    """修改 6205 补货线 55 安全线 110: an item's terms changed, once the other party agrees;
    修改 盘点提醒 17:00 (no item, sku ""): a reminder's time, in minutes after midnight."""

    sku: str
    changes: tuple[tuple[AmendField, int], ...]


@dataclass(frozen=True)
class AmendAnswer:
    """同意 A1 / 不同意 A1 原因: the other party's answer to an amendment."""

    action: Literal["amend_agree", "amend_reject"]
    amendment_id: str
    reason: str = ""


@dataclass(frozen=True)
class Uncounted:
    """谁没盘点 / who hasn't counted: the items with no count today."""


@dataclass(frozen=True)
class SheetLink:
    """表格 / sheet: the link to this agreement's page; 总览 / overview: to the supplier's list
    of every customer's items by days of cover."""

    page: Literal["sheet", "overview"] = "sheet"


@dataclass(frozen=True)
class Simulate:
    """模拟 6205 补货线 40 安全线 90 / simulate 6205 min 40 max 90: the item's last 90 days
    replayed under its min/max and under these (a figure not given stays as it is)."""

    sku: str
    min: int | None = None
    max: int | None = None


Intent = (
    Count
    | Correction
    | Withdrawal
    | Receipt
    | CorrectReceipt
    | Plan
    | Emergency
    | ProposalAction
    | Status
    | Todo
    | History
    | Undo
    | Courtesy
    | ConfirmCount
    | Help
    | ReviewNow
    | StatementAction
    | StatementQuery
    | OverstockChoice
    | Amend
    | AmendAnswer
    | Uncounted
    | Retro
    | Suggest
    | Export
    | SheetSent
    | ConfirmImport
    | SheetLink
    | Simulate
)

RefusalReason = Literal[
    "unknown_item",
    "bad_quantity",
    "too_large",
    "fraction",
    "ambiguous",
    "not_understood",
    "bad_period",
    "too_long",
    "approximate",  # 约 40, 40 左右, 老王说…: a guess is not recorded
    "remark",  # "6205 库存 98 其中坏了5个": words after the count that say more than it
    "future_date",  # "明天 6205 库存 80"
    "bad_month",  # "复盘 2026-W47": a review is of a month
]

# What a "still missing" refusal lacks, so the reply can say it (Refusal.missing).
Missing = Literal[
    "", "qty", "item", "proposal_id", "one_proposal", "period", "one_period", "one_item",
    "extra_number", "duplicate", "unit", "date", "statement_id",
]  # fmt: skip

# The hints a Refusal can carry: the intent the message looked like, so the reply can show
# the right example. "proposal" means a proposal id without a verb (P1 alone).
HINTS = (
    "count",
    "correction",
    "withdrawal",
    "receipt",
    "correct_receipt",
    "plan",
    "emergency",
    "confirm",
    "adjust",
    "reject",
    "ship",
    "status",
    "proposal",
    "overstock_return",
    "overstock_discount",
    "overstock_keep",
    "amend",
    "amend_reminder",
    "simulate",
)


@dataclass(frozen=True)
class Refusal:
    """Why a message was not turned into an intent; nothing must change because of it.

    `detail` is the offending text as typed (an unknown item, a bad number or period);
    `hint` is the intent it looked like (one of HINTS, or "" for plain chat); `missing`, for
    an "ambiguous" message, what it lacks (a quantity, an item, a proposal id…).
    """

    reason: RefusalReason
    detail: str = ""
    hint: str = ""
    missing: Missing = ""
    sku: str = ""  # the item the message named, for an example built from it


MAX_QTY = 1_000_000

# The longest message the parser reads, in characters. A count, plan or receipt of every item
# is a few lines; a sheet of 200 rows pasted from Excel ("6205 深沟球轴承 库存 1,250 件": 22
# characters a row, 40 with long names) is 4,400 to 8,000. WeCom cuts a text at 2048 bytes
# anyway; Slack allows 40,000 characters, which would hold the parser (and, by the GIL, every
# other request) for about half a second; a longer text is refused unread.
MAX_TEXT = 10_000
