"""`vmi-bot chat` through a pipe, as a user would: the seed's first steps in both languages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import EXAMPLE

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def chat(db: str, lines: list[str], *, speaker: str = "keeper", config: Path = EXAMPLE) -> str:
    done = subprocess.run(
        [VMI_BOT, "--config", str(config), "--db", db, "chat", "--as", speaker],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_count_review_confirm_ship_receive_through_the_console(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    out = chat(
        db,
        [
            "6205 库存 45",
            "/as buyer",
            "确认 P1",  # nothing to confirm yet
            "/as supplier",
            "检查",
            "/as keeper",
            "1",  # the keeper presses Confirm on the card: refused, the buyer's step
            "/as buyer",
            "1",
            "1",
            "/as supplier",
            "发货 P1",
            "/as keeper",
            "入库 P1",
            "状态",
        ],
    )
    assert "现有 45 件" in out and "低于补货线 50" in out
    assert "找不到补货建议「P1」" in out
    assert "补货建议 P1" in out and "建议补货 55 件" in out
    assert "只有采购、管理员可以做" in out
    assert out.count("已确认 P1 · 王采购") == 1
    assert "P1 已确认（王采购）" in out
    assert "已发货 P1 · 李供应" in out
    assert "本次入库 55 件，现有 100 件" in out


def test_english_replies_and_refusals_change_nothing(tmp_path: Path) -> None:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"'),
        encoding="utf-8",
    )
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    out = chat(
        db,
        ["stock 6205 45", "stock 6299 10", "used 6205 -5", "stock 6205 4.5", "what's for lunch?"],
        config=english,
    )
    assert "Count recorded" in out and "on hand 45" in out
    assert '"6299" is not an item of this agreement' in out and "6205" in out
    assert out.count("Nothing was recorded") == 2
    status = chat(db, ["status"], config=english)
    assert "on hand 45" in status
