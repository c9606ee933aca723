"""`vmi-bot chat` through a pipe, as a user would: the seed's first steps in both languages."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.console.chat import grouped, pasted_together
from tests.support import EXAMPLE

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def chat(
    db: str,
    lines: list[str],
    *,
    speaker: str = "keeper",
    config: Path = EXAMPLE,
    now: str | None = None,
) -> str:
    clock = ["--now", now] if now else []
    done = subprocess.run(
        [VMI_BOT, "--config", str(config), "--db", db, "chat", "--as", speaker, *clock],
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


def test_piped_lines_are_one_message_each_and_a_paste_block_is_one(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    out = chat(
        db,
        [
            "/paste",
            "VMI库存表",
            "序号\t料号\t库存",
            "1\t6205\t45件",
            "",
            "/end",
            "6205 库存 44",
            "昨天 6205 库存 50",
            "6205 大概 40",
        ],
        now="2026-11-21T10:00:00+08:00",
    )
    assert out.count("已记录盘点") == 2  # the sheet, then 44; 昨天 comes after: refused
    assert "6205 深沟球轴承：盘点 45 件，现有 45 件" in out
    assert "比账面少 1 件，记为领用" in out
    assert "那天之后已有新记录" in out
    assert "估计的数不记录" in out


def test_lines_that_arrive_together_are_one_message() -> None:
    def reader(lines: list[str]) -> Iterator[str | None]:
        yield from lines
        while True:
            yield None

    typed = reader(["6205 库存 45\n", "物料\t库存\n", "6205\t45\n", "6206\t30\n", "状态\n"])
    # what was waiting when each line was read: the three sheet lines came in one paste
    waiting = iter([False, True, True, False, False])
    messages = list(pasted_together(lambda: next(typed), lambda: next(waiting, False)))
    assert messages == ["6205 库存 45", "物料\t库存\n6205\t45\n6206\t30", "状态"]


def test_a_paste_block_is_one_message_even_unfinished() -> None:
    assert list(grouped(["a\n", "/paste\n", "b\n", "c\n", "/end\n", "d\n"])) == [
        "a\n",
        "b\nc",
        "d\n",
    ]
    assert list(grouped(["/paste", "b", "c"])) == ["b\nc"]


def _has_terminal() -> bool:
    """Whether this machine can open a pseudo-terminal (some containers cannot)."""
    try:
        primary, secondary = os.openpty()
    except (AttributeError, OSError):
        return False
    os.close(primary)
    os.close(secondary)
    return True


@pytest.mark.skipif(not _has_terminal(), reason="a terminal is needed")
def test_a_sheet_pasted_into_the_terminal_is_one_count(tmp_path: Path) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: vmi-bot chat in a terminal
        os.execv(VMI_BOT, [VMI_BOT, "--config", str(EXAMPLE), "--db",
                           f"sqlite:///{tmp_path / 'vmi.sqlite'}", "chat", "--as", "keeper",
                           "--now", "2026-11-21T10:00:00+08:00"])  # fmt: skip
    os.write(fd, "物料编码\t库存\n6205\t45\n\n".encode())  # one paste: all at once
    out = _read_until(fd, "已记录盘点")
    os.write(fd, b"/quit\n")
    out += _read_until(fd, None)
    os.waitpid(pid, 0)
    assert out.count("已记录盘点") == 1
    assert "盘点 45 件，现有 45 件" in out
    assert "没看懂" not in out and "还差一点信息" not in out


def _read_until(fd: int, text: str | None) -> str:
    """What the terminal shows until `text` appears (or the program ends)."""
    seen = b""
    while text is None or text not in seen.decode(errors="replace"):
        if not select.select([fd], [], [], 60)[0]:  # a guard against a hang, not a measure
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the program ended
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")
