"""`vmi-bot demo`: the seed's month, replayed through the same conversation on a simulated
clock, in a fresh database of its own: counts fall to 45, the review proposes 55, the buyer
confirms, the supplier ships, the keeper receives (100), 85 are withdrawn in the month, the
buyer's 90 → 120 for next month gives an urgent 20, and settlement bills 85 × unit price; the
buyer and the supplier confirm the statement, and it is locked. At 09:30 the monthly review
notes the 5 aged units and suggests a min/max, its chart written to a file the demo names. Then
P3 and P2 arrive (120 on hand, above max): the daily check raises overstock O1 and the supplier
takes the 5 aged units back; the supplier presses the suggestion's button and the buyer agrees
(amendment A1)."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlmodel import Session, col

from bot.adapters.console.chat import ConsoleChat
from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.overstock import check_overstock
from bot.services.retro import post_retros
from bot.services.review import review
from bot.services.settlement import Issued, post_statements
from bot.services.terms import effective_agreement
from bot.settings import CONSOLE, Settings
from bot.storage.db import transaction
from bot.storage.stock import stock_levels
from bot.storage.tables import (
    AmendmentRow,
    LedgerRow,
    OverstockAlertRow,
    ProposalRow,
    StatementRow,
)

AGREEMENT, SKU = "plant-6205", "6205"


@dataclass(frozen=True)
class Say:
    """A member types something."""

    month: int
    day: int
    hour: int
    speaker: str
    text: str
    minute: int = 0


@dataclass(frozen=True)
class Press:
    """A member presses a card's button."""

    month: int
    day: int
    hour: int
    speaker: str
    action: str
    proposal: str  # what the button is on: P1, S1~buyer, O1, or the item of a suggestion
    minute: int = 0


@dataclass(frozen=True)
class Scheduled:
    """What the bot does on its own schedule: "review", "settlement", "retro" (the monthly
    review with its chart) or "overstock" (the daily check)."""

    month: int
    day: int
    hour: int
    job: str
    minute: int = 0


MONTH: list[Say | Press | Scheduled] = [
    Say(10, 25, 10, "keeper", "6205 库存 90"),
    Say(10, 26, 10, "buyer", "下月 6205 需求 90"),
    Say(10, 27, 10, "keeper", "6205 库存 70"),
    Say(10, 29, 10, "keeper", "6205轴承库存45件"),
    Scheduled(10, 29, 11, "review"),
    Press(10, 29, 14, "buyer", "confirm", "P1"),
    Say(10, 29, 16, "supplier", "发货 P1 预计 10-31"),
    Say(10, 31, 15, "keeper", "入库 P1"),
    Say(11, 5, 17, "keeper", "领用 6205 10"),
    Say(11, 12, 17, "keeper", "6205 领用15件"),
    Say(11, 19, 17, "keeper", "used 6205 15"),
    Scheduled(11, 19, 18, "review"),
    Say(11, 20, 9, "buyer", "确认 P2"),
    Say(11, 20, 10, "buyer", "下月 6205 需求 90"),
    Say(11, 20, 15, "buyer", "紧急 6205 下月需求改为 120"),
    Scheduled(11, 25, 9, "settlement"),
    Press(11, 25, 10, "buyer", "confirm_statement", "S1~buyer"),
    Say(11, 25, 11, "supplier", "确认对账 S1"),
]

# After the statement, the rest of the month's work: the review at 09:30 with its chart and
# suggested min/max; P2 and the urgent P3 (bought for December's 120) arrive and take on hand to
# 120, above max, while 5 units from October's count have sat over 30 days: the daily check
# alerts, the supplier takes the 5 back; then the supplier proposes the suggested min/max and
# the buyer agrees.
AFTER_SETTLEMENT: list[Say | Press | Scheduled] = [
    Scheduled(11, 25, 9, "retro", minute=30),
    Say(11, 25, 14, "buyer", "确认 P3"),
    Say(11, 25, 16, "supplier", "发货 P3 预计 11-26"),
    Say(11, 25, 16, "supplier", "发货 P2 预计 11-27", minute=5),
    Say(11, 26, 10, "keeper", "入库 P3"),
    Say(11, 27, 10, "keeper", "入库 P2"),
    Scheduled(11, 28, 9, "overstock", minute=30),
    Press(11, 28, 10, "supplier", "return", "O1"),
    Say(11, 28, 11, "supplier", "建议 6205"),
    Press(11, 28, 11, "supplier", "amend", SKU, minute=5),
    Press(11, 28, 14, "buyer", "amend_agree", "A1"),
]


def _when(step: Say | Press | Scheduled) -> tuple[int, int, int, int]:
    return step.month, step.day, step.hour, step.minute


# the whole demo in time order (the review at 09:30 comes between the statement and its
# signatures); a stable sort keeps steps of the same minute in their order
DEMO: list[Say | Press | Scheduled] = sorted([*MONTH, *AFTER_SETTLEMENT], key=_when)


@dataclass(frozen=True)
class Figures:
    """The month's numbers, read back from the database."""

    proposed: int
    stock_after_receipt: int
    withdrawn: int
    urgent: int
    customer_freight_share: Decimal
    unit_price: Decimal
    settlement: Decimal
    aged: int
    statement_id: str
    statement_state: str  # "locked" once both sides confirmed
    chart: Path | None = None  # the monthly review's chart, as the console wrote it
    overstock_alert: str = ""  # O1
    returned: int = 0  # units sent back on the alert
    amended: tuple[int, int] | None = None  # min and max as agreed (A1)
    amendment_state: str = ""  # "applied" once the buyer agreed


def run_demo(
    out: TextIO = sys.stdout,
    config_path: str | None = None,
    year: int = 2026,
    settings: Settings | None = None,
    pictures: Path | None = None,
) -> Figures:
    """Replay the month in a temporary database and print it; returns the figures. The
    review's chart is written to `pictures` (by default the system's temporary folder,
    vmi-demo/), which outlives the demo's database so that it can be opened afterwards."""
    pictures = pictures or Path(tempfile.gettempdir()) / "vmi-demo"
    with tempfile.TemporaryDirectory(prefix="vmi-demo-") as folder:
        runtime = start(config_path, f"sqlite:///{Path(folder) / 'demo.sqlite'}", settings)
        try:
            return _replay(runtime, out, year, pictures)
        finally:
            runtime.engine.dispose()


JOB_LABELS = {
    "review": "定时补货检查 / scheduled review",
    "settlement": "结算日 / settlement day",
    "retro": "月度复盘 / monthly review",
    "overstock": "每日积压检查 / daily overstock check",
}


def _replay(runtime: Runtime, out: TextIO, year: int, pictures: Path) -> Figures:
    agreement = runtime.config.agreement(AGREEMENT)
    if agreement is None or agreement.item(SKU) is None:
        raise SystemExit(f"vmi-bot demo: the configuration has no agreement {AGREEMENT} with {SKU}")
    now = datetime(year, 10, 25, 9, tzinfo=agreement.tz)
    chat = ConsoleChat(runtime, "keeper", out=out, clock=lambda: now, pictures=pictures)
    after_receipt: int | None = None
    statement: Issued | None = None
    out.write("VMI demo: 一个月的 6205 轴承 / a month of bearing 6205\n")
    out.write(f"(图表写在 / charts are written to {pictures})\n")
    for step in DEMO:
        now = datetime(year, step.month, step.day, step.hour, step.minute, tzinfo=agreement.tz)
        if isinstance(step, Scheduled):
            out.write(f"\n[{now.strftime('%m-%d %H:%M')}] ⏰ {JOB_LABELS[step.job]}\n")
            with transaction(runtime.engine) as session:
                statement = _run_job(session, runtime, step.job, now) or statement
            chat.deliver()
            continue
        chat.switch(step.speaker)
        if isinstance(step, Press):
            chat.press(step.action, step.proposal, echo=True)
        else:
            chat.say(step.text, echo=True)
        if after_receipt is None and isinstance(step, Say) and step.text.startswith("入库"):
            with transaction(runtime.engine) as session:
                after_receipt = stock_levels(session, [AGREEMENT])[(AGREEMENT, SKU)].on_hand
    assert statement is not None
    figures = _figures(runtime, after_receipt or 0, statement, pictures)
    _print_figures(out, figures)
    return figures


def _run_job(session: Session, runtime: Runtime, job: str, now: datetime) -> Issued | None:
    """One scheduled job, as the scheduler runs it; the statement when it is settlement's."""
    console = frozenset({CONSOLE})
    if job == "review":
        review(session, runtime.config, now, platforms=console)
    elif job == "retro":
        post_retros(session, runtime.config, now, agreement_ids=[AGREEMENT], platforms=console)
    elif job == "overstock":
        check_overstock(session, runtime.config, now, agreement_ids=[AGREEMENT], platforms=console)
    else:
        [issued] = post_statements(
            session, runtime.config, now, agreement_ids=[AGREEMENT], platforms=console
        )
        return issued
    return None


def _figures(runtime: Runtime, after_receipt: int, issued: Issued, pictures: Path) -> Figures:
    agreement = runtime.config.agreement(AGREEMENT)
    assert agreement is not None
    with transaction(runtime.engine) as session:
        first = session.scalars(select(ProposalRow).order_by(col(ProposalRow.id))).first()
        urgent = session.scalars(
            select(ProposalRow).where(col(ProposalRow.urgent).is_(True))
        ).first()
        signed = session.get(StatementRow, issued.row.id)
        alert = session.scalars(select(OverstockAlertRow)).first()
        returned = sum(
            session.scalars(select(col(LedgerRow.qty)).where(col(LedgerRow.kind) == "return"))
        )
        amendment = session.scalars(select(AmendmentRow)).first()
        item = effective_agreement(runtime.config, session, agreement).item(SKU)
    [line] = [line for line in issued.statement.lines if line.item.sku == SKU]
    charts = sorted(pictures.glob(f"*-retro-{AGREEMENT}-*.png"), key=lambda p: p.stat().st_mtime)
    return Figures(
        proposed=first.qty if first else 0,
        stock_after_receipt=after_receipt,
        withdrawn=line.settlement.qty,
        urgent=urgent.qty if urgent else 0,
        customer_freight_share=agreement.terms.emergency_freight_customer_share,
        unit_price=line.settlement.unit_price,
        settlement=line.settlement.amount,
        aged=line.month.aged,
        statement_id=f"S{issued.row.id}",
        statement_state=signed.state if signed else issued.row.state,
        chart=charts[-1] if charts else None,
        overstock_alert=f"O{alert.id}" if alert else "",
        returned=returned,
        amended=(item.min, item.max) if item and amendment else None,
        amendment_state=amendment.state if amendment else "",
    )


def _print_figures(out: TextIO, f: Figures) -> None:
    share = f"{f.customer_freight_share * 100:.0f}%"
    locked = f.statement_state == "locked"
    signed = "双方已确认，已锁定 / confirmed by both, locked" if locked else f.statement_state
    amended = f"{f.amended[0]} / {f.amended[1]}" if f.amended else "–"
    agreed = " (双方同意 / agreed by both)" if f.amendment_state == "applied" else ""
    out.write(
        "\n== 本月数字 / The month's figures ==\n"
        f"补货建议 / proposed (P1):          {f.proposed} 件\n"
        f"入库后库存 / stock after receipt:   {f.stock_after_receipt} 件\n"
        f"本月领用 / withdrawn in the month: {f.withdrawn} 件\n"
        f"紧急补货 / urgent top-up:          {f.urgent} 件 (客户承担运费 / customer pays {share})\n"
        f"结算 / settlement:                 {f.withdrawn} × {f.unit_price:,.2f} = "
        f"{f.settlement:,.2f}\n"
        f"超期 / aged over the limit:        {f.aged} 件\n"
        f"对账单 / statement {f.statement_id}:            {signed}\n"
        f"复盘图表 / review chart:           {f.chart or '–'}\n"
        f"积压 / overstock {f.overstock_alert or '–'}:               "
        f"退货 / returned {f.returned} 件\n"
        f"补货线 / 安全线 (min / max):       {amended}{agreed}\n"
    )
