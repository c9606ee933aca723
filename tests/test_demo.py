"""`vmi-bot demo` replays the seed's month and its figures are the seed's numbers."""

from __future__ import annotations

import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from bot.app.demo import run_demo
from tests.support import EXAMPLE

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def test_the_month_ends_with_the_seeds_numbers() -> None:
    out = io.StringIO()
    figures = run_demo(out, str(EXAMPLE))
    assert figures.proposed == 55  # 45 counted, max 100
    assert figures.stock_after_receipt == 100
    assert figures.withdrawn == 85
    assert figures.urgent == 20  # next month 90 → 120 over a position of 100
    assert figures.customer_freight_share == Decimal("0.5")
    assert figures.settlement == Decimal("85") * figures.unit_price == Decimal("1062.50")
    assert figures.aged == 5  # demand came in 5 under the plan of 90
    text = out.getvalue()
    assert "补货建议 P1" in text and "已确认 P1 · 王采购" in text and "已入库 P1" in text
    assert "客户承担 50%" in text and "比计划少 5 件" in text


def test_the_command_prints_the_conversation_and_the_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "demo"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "85 × 12.50 = 1,062.50" in done.stdout
    assert "[10-29 14:00] 王采购" in done.stdout
    assert list(tmp_path.iterdir()) == []  # the demo leaves no database behind
