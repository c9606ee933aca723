"""`vmi-bot demo`: the seed's month, replayed through the same conversation on a simulated
clock, in a fresh database of its own: counts fall to 45, the review proposes 55, the buyer
confirms, the supplier ships, the keeper receives (100), 85 are withdrawn in the month, the
buyer's 90 → 120 for next month gives an urgent 20, and settlement bills 85 × unit price while
the monthly review notes the aged units; the buyer and the supplier confirm the statement, and
it is locked."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlmodel import col

from bot.adapters.console.chat import ConsoleChat
from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.services.settlement import Issued, post_statements
from bot.settings import CONSOLE, Settings
from bot.storage.db import transaction
from bot.storage.stock import stock_levels
from bot.storage.tables import ProposalRow, StatementRow

AGREEMENT, SKU = "plant-6205", "6205"


@dataclass(frozen=True)
class Say:
    """A member types something."""

    month: int
    day: int
    hour: int
    speaker: str
    text: str


@dataclass(frozen=True)
class Press:
    """A member presses a card's button."""

    month: int
    day: int
    hour: int
    speaker: str
    action: str
    proposal: str


@dataclass(frozen=True)
class Scheduled:
    """What the bot does on its own schedule: "review" or "settlement"."""

    month: int
    day: int
    hour: int
    job: str


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


def run_demo(
    out: TextIO = sys.stdout,
    config_path: str | None = None,
    year: int = 2026,
    settings: Settings | None = None,
) -> Figures:
    """Replay the month in a temporary database and print it; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="vmi-demo-") as folder:
        runtime = start(config_path, f"sqlite:///{Path(folder) / 'demo.sqlite'}", settings)
        try:
            return _replay(runtime, out, year)
        finally:
            runtime.engine.dispose()


def _replay(runtime: Runtime, out: TextIO, year: int) -> Figures:
    agreement = runtime.config.agreement(AGREEMENT)
    if agreement is None or agreement.item(SKU) is None:
        raise SystemExit(f"vmi-bot demo: the configuration has no agreement {AGREEMENT} with {SKU}")
    now = datetime(year, 10, 25, 9, tzinfo=agreement.tz)
    chat = ConsoleChat(runtime, "keeper", out=out, clock=lambda: now)
    after_receipt = 0
    statement: Issued | None = None
    out.write("VMI demo: 一个月的 6205 轴承 / a month of bearing 6205\n")
    for step in MONTH:
        now = datetime(year, step.month, step.day, step.hour, tzinfo=agreement.tz)
        if isinstance(step, Scheduled):
            stamp = now.strftime("%m-%d %H:%M")
            label = (
                "定时补货检查 / scheduled review"
                if step.job == "review"
                else "结算日 / settlement day"
            )
            out.write(f"\n[{stamp}] ⏰ {label}\n")
            with transaction(runtime.engine) as session:
                if step.job == "review":
                    review(session, runtime.config, now, platforms=frozenset({CONSOLE}))
                else:
                    [statement] = post_statements(
                        session, runtime.config, now, agreement_ids=[AGREEMENT],
                        platforms=frozenset({CONSOLE}),
                    )  # fmt: skip
            chat.deliver()
            continue
        chat.switch(step.speaker)
        if isinstance(step, Press):
            chat.press(step.action, step.proposal, echo=True)
        else:
            chat.say(step.text, echo=True)
        if isinstance(step, Say) and step.text.startswith("入库"):
            with transaction(runtime.engine) as session:
                after_receipt = stock_levels(session, [AGREEMENT])[(AGREEMENT, SKU)].on_hand
    assert statement is not None
    figures = _figures(runtime, after_receipt, statement)
    _print_figures(out, figures)
    return figures


def _figures(runtime: Runtime, after_receipt: int, issued: Issued) -> Figures:
    agreement = runtime.config.agreement(AGREEMENT)
    assert agreement is not None
    with transaction(runtime.engine) as session:
        first = session.scalars(select(ProposalRow).order_by(col(ProposalRow.id))).first()
        urgent = session.scalars(
            select(ProposalRow).where(col(ProposalRow.urgent).is_(True))
        ).first()
        signed = session.get(StatementRow, issued.row.id)
    [line] = [line for line in issued.statement.lines if line.item.sku == SKU]
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
    )


def _print_figures(out: TextIO, f: Figures) -> None:
    share = f"{f.customer_freight_share * 100:.0f}%"
    locked = f.statement_state == "locked"
    signed = "双方已确认，已锁定 / confirmed by both, locked" if locked else f.statement_state
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
    )
