"""Every example of CONTRACT §5, typed into `vmi-bot chat` through a pipe, does what it says.

The chat prints a transcript when piped (`[MM-DD HH:MM] 名字: text`, then the bot's cards), so
each example's reply is the text between its line and the next one typed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import EXAMPLE

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
SAID = re.compile(r"^\[\d\d-\d\d \d\d:\d\d\] [^:]+: (.*)$", re.MULTILINE)
ITEM_6206 = (
    '\n[[agreements.items]]\nsku = "6206"\nname = "6206 深沟球轴承"\nmin = 20\nmax = 60\n'
    "unit_price = 15\n"
)


# The seed's Saturday: 下月 is 2026-12 and 下周 is 2026-W48, whatever today is.
SEED_NOW = "2026-11-21T10:00:00+08:00"


def converse(
    tmp_path: Path, lines: list[str], locale: str = "zh", now: str = SEED_NOW
) -> list[tuple[str, str]]:
    """Type the lines (as keeper first, on the seed's clock); each with the bot's answer to it."""
    config = tmp_path / f"{locale}.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', f'locale = "{locale}"')
    config.write_text(text + ITEM_6206, encoding="utf-8")
    done = subprocess.run(
        [VMI_BOT, "--config", str(config), "--db", f"sqlite:///{tmp_path / 'vmi.sqlite'}",
         "chat", "--as", "keeper", "--now", now],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    marks = list(SAID.finditer(done.stdout))
    return [
        (m.group(1), done.stdout[m.end() : marks[i + 1].start() if i + 1 < len(marks) else None])
        for i, m in enumerate(marks)
    ]


SEED_WEEK_ZH = [
    # (who, what they type, what the answer must contain)
    ("keeper", "6205 库存 45", ["已记录盘点", "现有 45 件"]),
    ("keeper", "6205轴承库存45件", ["已记录盘点", "现有 45 件"]),
    ("keeper", "库存 6205=45, 6206=30", ["6205 深沟球轴承：盘点 45", "6206 深沟球轴承：盘点 30"]),
    ("keeper", "stock 6205 45", ["Count recorded"]),  # answered in the language typed
    ("keeper", "6205 45", ["已记录盘点", "现有 45 件"]),
    ("keeper", "领用 6205 10", ["已记录领用", "现有 35 件"]),
    ("keeper", "6205 领用10件", ["现有 25 件"]),
    ("keeper", "used 6205 10", ["on hand 15"]),
    ("supplier", "检查", ["补货建议 P1", "建议补货 85 件", "P1 6205 85 件"]),
    ("supplier", "check", ["Nothing new to propose"]),
    ("buyer", "确认 P1", ["已确认 P1 · 王采购"]),
    ("buyer", "confirm P1", ["Already done", "P1 is already confirmed by 王采购"]),
    ("buyer", "下月 6205 需求 90", ["已记录需求计划", "2026-12：90 件"]),
    ("buyer", "下周 6205 预计领用 20", ["已记录需求计划", "2026-W48 (11-23 – 11-29)：20 件"]),
    ("buyer", "计划 2026-12 6205 90", ["2026-12：90 件（与原计划相同）"]),
    ("buyer", "plan next month 6205 90", ["2026-12: 90 pcs"]),
    ("buyer", "紧急 6205 下月需求改为 120", ["紧急需求变更", "需额外补货 20 件", "客户承担 50%"]),
    ("buyer", "拒绝 P2 太急了", ["已拒绝 P2 · 王采购", "原因：太急了"]),
    ("buyer", "urgent 6205 next month 120", ["20 pcs more needed, urgent proposal P3"]),
    ("buyer", "调整 P3 25", ["已调整并确认 P3", "25 件（原 20 件）"]),
    ("buyer", "adjust P3 60", ["Already done"]),
    ("buyer", "reject P3 reason", ["Not possible now"]),
    ("supplier", "发货 P1", ["已发货 P1 · 李供应"]),
    ("supplier", "shipped P3", ["Shipped P3"]),
    ("keeper", "入库 P1 50", ["本次入库 50 件，现有 65 件，还有 35 件在途"]),
    ("keeper", "入库 P1", ["本次入库 35 件，现有 100 件"]),
    ("keeper", "received P3", ["Received 25 pcs now, on hand 125 pcs"]),
    ("keeper", "状态", ["库存状态", "现有 125 件"]),
    ("supplier", "status", ["Stock status"]),
    ("keeper", "6205 库存?", ["6205 深沟球轴承：现有 125 件"]),
    ("buyer", "帮助", ["能听懂", "确认 P1"]),
    ("supplier", "help", ["What the VMI bot understands", "shipped P1"]),
]


def script(steps: list[tuple[str, str, list[str]]]) -> list[str]:
    lines, speaker = [], "keeper"
    for who, text, _ in steps:
        if who != speaker:
            lines.append(f"/as {who}")
            speaker = who
        lines.append(text)
    return lines


def test_every_contract_example_in_the_language_it_is_typed_in(tmp_path: Path) -> None:
    answers = converse(tmp_path, script(SEED_WEEK_ZH))
    assert [typed for typed, _ in answers] == [text for _, text, _ in SEED_WEEK_ZH]
    for (typed, answer), (_, _, expected) in zip(answers, SEED_WEEK_ZH, strict=True):
        for fragment in expected:
            assert fragment in answer, f"{typed!r} answered:\n{answer}"


def test_the_same_examples_answer_in_english(tmp_path: Path) -> None:
    steps = [
        ("keeper", "stock 6205 45", ["Count recorded", "on hand 45"]),
        ("keeper", "6205 库存 45", ["已记录盘点"]),  # the language typed, not the bot's
        ("keeper", "used 6205 10", ["Withdrawal recorded", "on hand 35"]),
        ("supplier", "check", ["Replenishment proposal P1", "Propose 65"]),
        ("buyer", "confirm P1", ["Confirmed P1"]),
        ("buyer", "plan next month 6205 90", ["Demand plan recorded", "2026-12: 90"]),
        ("buyer", "urgent 6205 next month 120", ["20 pcs more needed", "customer pays 50%"]),
        ("supplier", "shipped P1", ["Shipped P1"]),
        ("keeper", "received P1", ["Received 65", "on hand 100"]),
        ("keeper", "status", ["Stock status", "on hand 100"]),
        ("keeper", "help", ["What the VMI bot understands"]),
    ]
    answers = converse(tmp_path, script(steps), locale="en")
    for (typed, answer), (_, _, expected) in zip(answers, steps, strict=True):
        for fragment in expected:
            assert fragment in answer, f"{typed!r} answered:\n{answer}"


@pytest.mark.parametrize(
    ("who", "text", "expected"),
    [
        ("keeper", "6299 库存 45", ["没有这个物料", "「6299」", "6205"]),
        ("keeper", "领用 6205 -5", ["数量不对", "什么都没有记录"]),
        ("keeper", "6205 库存 4.5", ["数量要是整数"]),
        ("keeper", "6205 库存 5000000", ["数量太大"]),
        ("keeper", "确认 P1", ["你的角色不能做这一步", "采购"]),
        ("buyer", "6205 库存 45", ["只有仓管员、管理员可以做"]),
        ("keeper", "库存 6205", ["还差一点信息", "可以这样写"]),
        ("supplier", "确认 P9", ["你的角色不能做这一步"]),
        ("buyer", "确认 P9", ["没有这个补货建议"]),
    ],
)
def test_each_refusal_says_why_and_changes_nothing(
    tmp_path: Path, who: str, text: str, expected: list[str]
) -> None:
    [(_, answer), (_, status)] = converse(tmp_path, [f"/as {who}", text, "状态"])
    for fragment in expected:
        assert fragment in answer, answer
    assert "现有 0 件" in status and "P1" not in status


def test_the_back_dated_examples_are_booked_on_their_day(tmp_path: Path) -> None:
    today = "2026-12-01T09:00:00+08:00"
    (tmp_path / "counted").mkdir()
    (tmp_path / "fresh").mkdir()
    said = converse(
        tmp_path / "counted", ["6205 库存 90", "昨天 6205 库存 80", "11-30 领用 6205 10"], now=today
    )
    # today's 90 came after both: neither is booked (the count of today already holds them)
    assert all("那天之后已有新记录" in reply for _, reply in said[1:])
    said = converse(tmp_path / "fresh", ["昨天 6205 库存 80", "11-30 领用 6205 10"], now=today)
    assert "记在 2026-11-30（那天结束时）" in said[0][1] and "现有 80 件" in said[0][1]
    assert "记在 2026-11-30（那天结束时）" in said[1][1] and "现有 70 件" in said[1][1]
