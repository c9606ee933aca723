"""The shared sheet: exported as a workbook (CLI and chat) with the seed's figures, and a
keeper's sheet imported (CLI dry run and for real, console chat), confirmed once."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from sqlalchemy import func, select
from waitress.server import create_server

from bot.adapters.console.chat import ConsoleChat
from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.clock import clock_from
from bot.runtime.context import Runtime
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow, OutboxRow
from messages.cards import Card
from tests import test_slack
from tests.fake_slack import FakeSlack
from tests.support import EXAMPLE, in_thread, shanghai
from tests.test_slack import (
    BOT_NOW,
    FORM,
    KEEPER,
    SECRET,
    Bot,
    click,
    count_rows,
    message_event,
    signed_post,
)
from tests.test_statements import posted, settle, the_month

slack = test_slack.slack  # the fake Slack API
VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
AFTER = shanghai(2026, 11, 26, 10)


@pytest.fixture
def rt(database_url: str) -> Iterator[Runtime]:
    """The example agreement on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL."""
    started = start(str(EXAMPLE), database_url)
    try:
        yield started
    finally:
        started.engine.dispose()


@pytest.fixture
def bot(database_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """The app on loopback as test_slack's, on SQLite and, when TEST_DATABASE_URL is set,
    PostgreSQL."""
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                        slack_api_base_url=slack.base_url)  # fmt: skip
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    runtime = start(str(EXAMPLE), database_url, settings)
    runtime = replace(runtime, clock=clock_from(BOT_NOW, UTC))  # just after the messages' ts
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.takes_turn = lambda: True  # the only process: it leads without the scheduler
    service.inbox.start()
    try:
        port = server.effective_port  # type: ignore[union-attr]
        yield Bot(f"http://127.0.0.1:{port}", runtime, service, slack)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()


def keepers_sheet(count: object = "58件") -> bytes:
    """A sheet as a keeper keeps it: a merged title, 序号, Chinese headers, units, a blank row,
    an unknown item and a total row."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = book.add_worksheet("盘点")
    ws.merge_range(0, 0, 0, 3, "VMI 仓库盘点表 2026-11-26")
    ws.write_row(1, 0, ["序号", "物料编码", "名称", "库存数量"])
    ws.write_row(2, 0, [1, "6205", "深沟球轴承", count])
    ws.write_row(4, 0, [2, "9999", "不认识的", 3])
    ws.write_row(5, 0, ["合计", "", "", 61])
    book.close()
    return out.getvalue()


def ledger_count(rt: Runtime) -> int:
    with transaction(rt.engine, read_only=True) as s:
        return s.scalar(select(func.count()).select_from(LedgerRow)) or 0


def test_the_export_holds_the_seeds_figures(rt: Runtime, tmp_path: Path) -> None:
    the_month(rt)
    settle(rt)
    db = rt.engine.url.render_as_string(hide_password=False)
    rt.engine.dispose()
    out = tmp_path / "sheet.xlsx"
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "export", "--out", str(out),
         "--now", "2026-11-26T10:00:00+08:00"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["库存", "流水", "补货", "计划", "对账"]
    stock = book["库存"]
    assert stock.freeze_panes == "A2"
    head = [c.value for c in stock[1]]
    row = dict(zip(head, [c.value for c in stock[2]], strict=True))
    assert (row["物料编码"], row["库存"], row["在途"], row["补货线"], row["安全线"]) == (
        "6205", 60, 40, 50, 100)  # fmt: skip
    assert isinstance(row["最近盘点"], datetime) and row["盘点人"] == "王仓管"
    assert stock.conditional_formatting  # below min / above max marked
    ledger = [[c.value for c in r] for r in book["流水"].iter_rows(min_row=2)]
    withdrawn = -sum(r[3] for r in ledger if r[2] == "领用")
    assert withdrawn == 85  # the seed's month: 85 withdrawn
    assert all(isinstance(r[0], datetime) for r in ledger)
    proposals = {r[0].value for r in book["补货"].iter_rows(min_row=2)}
    assert proposals == {"P1", "P2", "P3"}
    plans = [(r[2].value, r[5].value) for r in book["计划"].iter_rows(min_row=2)]
    assert ("2026-12", 120) in plans
    statement = [c.value for c in book["对账"][2]]
    assert statement[0] == "S1" and statement[4] == 1062.5
    # --month: only that month's movements
    november = tmp_path / "nov.xlsx"
    subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "export", "--out", str(november),
         "--month", "2026-11", "--now", "2026-11-26T10:00:00+08:00"],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
    )  # fmt: skip
    rows = list(openpyxl.load_workbook(november)["流水"].iter_rows(min_row=2, values_only=True))
    assert rows and all(r[0].month == 11 for r in rows)  # type: ignore[union-attr]


def test_export_in_chat_carries_the_workbook(rt: Runtime) -> None:
    the_month(rt)
    replies = posted(rt, "supplier", "export", AFTER)
    card = replies[-1][1]
    assert card.image_name == "vmi-plant-6205.xlsx" and not card.is_picture
    book = openpyxl.load_workbook(io.BytesIO(card.image_bytes()))
    assert book.sheetnames == ["Stock", "Ledger", "Proposals", "Plans", "Statements"]
    assert book["Stock"]["D2"].value == 60
    # the card survives the outbox as it was
    assert Card.from_json(card.to_json()).media_type.endswith("spreadsheetml.sheet")


def test_import_through_the_cli_dry_run_then_for_real_once(rt: Runtime, tmp_path: Path) -> None:
    the_month(rt)
    db = rt.engine.url.render_as_string(hide_password=False)
    rt.engine.dispose()
    path = tmp_path / "盘点.xlsx"
    path.write_bytes(keepers_sheet())

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "import", str(path), *extra,
             "--now", "2026-11-26T10:00:00+08:00"],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        )  # fmt: skip

    rt = start(str(EXAMPLE), db)
    before = ledger_count(rt)
    dry = run("--as", "keeper", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "第 3 行 6205 深沟球轴承：盘点 58 件 ✓" in dry.stdout
    assert "第 5 行 9999" in dry.stdout and "没有这个物料" in dry.stdout
    assert ledger_count(rt) == before  # a dry run records nothing
    done = run("--as", "keeper")
    assert done.returncode == 0, done.stderr
    assert "已导入 I1" in done.stdout and "现有 58 件" in done.stdout
    after = ledger_count(rt)
    assert after == before + 2  # the count, and the withdrawal it inferred (60 → 58)
    again = run("--as", "keeper")
    assert "已经导入过" in again.stdout
    assert ledger_count(rt) == after  # the same file twice records once


def test_import_in_the_console_confirmed_once_and_a_wrong_role_refused(
    rt: Runtime, tmp_path: Path
) -> None:
    the_month(rt)
    out = io.StringIO()
    path = tmp_path / "count.xlsx"
    path.write_bytes(keepers_sheet("57"))
    supplier = ConsoleChat(rt, "supplier", out=out, clock=lambda: AFTER, pictures=tmp_path)
    supplier.deliver()
    before = ledger_count(rt)
    supplier.say(f"/file {path}")
    assert "不能做这一步" in out.getvalue()  # a supplier keeps no counts
    keeper = ConsoleChat(rt, "keeper", out=out, clock=lambda: AFTER, pictures=tmp_path)
    keeper.say(f"/file {path}")
    assert "导入预览 I1" in out.getvalue() and "还没有记录" in out.getvalue()
    assert ledger_count(rt) == before  # nothing until the keeper confirms
    keeper.press("confirm_import", "I1")
    keeper.press("confirm_import", "I1")  # a double click records once
    keeper.say("确认导入")
    text = out.getvalue()
    assert text.count("已导入 I1") == 1 and "现有 57 件" in text
    assert ledger_count(rt) == before + 2
    with transaction(rt.engine, read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) is not None


def test_a_csv_plan_needs_a_buyer(rt: Runtime, tmp_path: Path) -> None:
    out = io.StringIO()
    path = tmp_path / "plan.csv"
    path.write_bytes("序号,料号,期间,需求数量\n1,6205,2026-12,95\n".encode("gb18030"))
    keeper = ConsoleChat(rt, "keeper", out=out, clock=lambda: AFTER, pictures=tmp_path)
    keeper.say(f"/file {path}")
    assert "你的角色不能记这一项" in out.getvalue()
    buyer = ConsoleChat(rt, "buyer", out=out, clock=lambda: AFTER, pictures=tmp_path)
    path.write_bytes("序号,料号,期间,需求数量\n1,6205,2026-12,96件\n".encode("gb18030"))
    buyer.say(f"/file {path}")
    buyer.say("确认导入")
    assert "2026-12：96 件" in out.getvalue()


def test_a_sheet_sent_in_slack_is_fetched_shown_and_recorded_once(
    bot: Bot, slack: FakeSlack
) -> None:
    shared = slack.add_file("盘点.xlsx", keepers_sheet())
    event = json.loads(message_event("", ts="1763690400.000100"))
    # Slack's file_share message; its file named by id alone, as a file_shared event does
    event["event"].update(subtype="file_share", files=[{"id": shared["id"], "name": "盘点.xlsx"}])
    assert signed_post(bot, json.dumps(event), "application/json")[0] == 200
    assert slack.calls_to("files.info") and slack.calls_to("file_download")[0].token == "xoxb-test"
    [preview] = slack.wait_for("chat.postMessage")
    assert "导入预览 I1" in preview.params["text"] and "没有这个物料" in preview.params["text"]
    assert count_rows(bot, LedgerRow) == 0  # nothing until the keeper confirms
    card_ts = preview.response["ts"]
    for n in (1, 2):  # a double click records once
        signed_post(bot, click("confirm_import", "I1", KEEPER, card_ts, f"1763690500.{n}"), FORM)
    assert count_rows(bot, LedgerRow) == 1
    [updated] = slack.wait_for("chat.update")
    assert "已导入 I1" in updated.params["text"] and "现有 58 件" in updated.params["text"]
    [again_click] = slack.wait_for("chat.postEphemeral")
    assert again_click.params["user"] == KEEPER and "已经导入" in again_click.params["text"]
    # the same file again: refused, recorded nothing more
    again = json.loads(message_event("", ts="1763690600.000100", event_id="Ev02"))
    again["event"].update(subtype="file_share", files=[shared])
    signed_post(bot, json.dumps(again), "application/json")
    assert count_rows(bot, LedgerRow) == 1


def test_a_mistyped_count_in_a_sheet_is_held_as_when_typed(rt: Runtime, tmp_path: Path) -> None:
    the_month(rt)
    out = io.StringIO()
    path = tmp_path / "count.xlsx"
    path.write_bytes(keepers_sheet("6"))  # 60 on the book: a digit dropped
    keeper = ConsoleChat(rt, "keeper", out=out, clock=lambda: AFTER, pictures=tmp_path)
    keeper.deliver()
    before = ledger_count(rt)
    keeper.say(f"/file {path}")
    keeper.say("确认导入")
    assert "已导入 I1" in out.getvalue() and "确认盘点" in out.getvalue()
    assert ledger_count(rt) == before  # held, not recorded, until the keeper says it is right


def test_export_in_slack_shares_the_workbook_in_the_thread(bot: Bot, slack: FakeSlack) -> None:
    signed_post(bot, message_event("导出"), "application/json")
    [asked] = slack.wait_for("files.getUploadURLExternal")
    assert asked.params["filename"] == "vmi-plant-6205.xlsx"
    slack.wait_for("files.completeUploadExternal")
    book = openpyxl.load_workbook(io.BytesIO(slack.uploaded(asked.response["file_id"])))
    assert book.sheetnames == ["库存", "流水", "补货", "计划", "对账"]
