"""`vmi-bot demo` replays the seed's month and its figures are the seed's numbers."""

from __future__ import annotations

import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from PIL import Image

from bot.app.demo import run_demo
from tests.support import EXAMPLE

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def test_the_month_ends_with_the_seeds_numbers(tmp_path: Path) -> None:
    out = io.StringIO()
    figures = run_demo(out, str(EXAMPLE), pictures=tmp_path)
    assert figures.proposed == 55  # 45 counted, max 100
    assert figures.stock_after_receipt == 100
    assert figures.withdrawn == 85
    assert figures.urgent == 20  # next month 90 → 120 over a position of 100
    assert figures.customer_freight_share == Decimal("0.5")
    assert figures.settlement == Decimal("85") * figures.unit_price == Decimal("1062.50")
    assert figures.aged == 5  # demand came in 5 under the plan of 90
    text = out.getvalue()
    assert "补货建议 P1" in text and "已确认 P1 · 王采购" in text and "已入库 P1" in text
    assert "客户承担 50%" in text
    # the statement, then the full review at 09:30 with its chart and its suggestion
    statement = text[text.index("结算单 · S1") : text.index("月度复盘 / monthly review")]
    assert "85 件 × 12.50 = 1,062.50" in statement and "比计划少" not in statement
    assert "本月有 5 件库存超期，是因为需求比预测少 5 件" in text
    assert figures.chart is not None and figures.chart.parent == tmp_path
    assert f"🖼 {figures.chart}" in text and Image.open(figures.chart).format == "PNG"
    assert "按建议修改" in text


def test_the_month_goes_on_to_an_overstock_return_and_an_agreed_change(tmp_path: Path) -> None:
    out = io.StringIO()
    figures = run_demo(out, str(EXAMPLE), pictures=tmp_path)
    text = out.getvalue()
    # P3 and P2 arrive after settlement: 120 on hand, above max 100, 5 units from October aged
    assert "现有 120 件，超过安全线 100；其中 5 件已放超过 30 天" in text
    assert (figures.overstock_alert, figures.returned) == ("O1", 5)
    assert "积压 O1 已定：退货 · 李供应" in text and "现有 115 件" in text
    # the supplier presses the suggestion's button, the buyer agrees: the terms change
    suggested = text[text.index("建议补货线 · 6205") :]
    low, high = figures.amended or (0, 0)
    assert f"建议补货线 {low} / 安全线 {high}（现为 50 / 100）" in suggested
    assert "修改 A1：6205" in suggested and "李供应提出，王采购同意" in suggested
    assert figures.amendment_state == "applied" and (low, high) != (50, 100)
    assert f"补货线 / 安全线 (min / max):       {low} / {high} (双方同意" in text


def test_the_command_prints_the_conversation_and_the_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "demo"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "85 × 12.50 = 1,062.50" in done.stdout
    assert "[10-29 14:00] 王采购" in done.stdout
    assert list(tmp_path.iterdir()) == []  # the demo leaves no database behind
    # the chart is written to the temporary folder, where the demo says it is
    chart = Path(done.stdout.split("复盘图表 / review chart:")[1].split()[0])
    assert f"🖼 {chart}" in done.stdout and chart.read_bytes()[:4] == b"\x89PNG"
