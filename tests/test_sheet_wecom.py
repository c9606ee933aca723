"""A sheet sent to the WeCom app: a `file` message, fetched with `media/get`, shown row by row
and recorded once when the keeper confirms (the preview's button or 确认导入)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import openpyxl
import pytest
from sqlalchemy import func, select
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.runtime import delivery as delivery_module
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow
from tests import test_wecom
from tests.fake_wecom import FakeWeCom
from tests.support import EXAMPLE, in_thread
from tests.test_sheet import keepers_sheet
from tests.test_wecom import AGENT, CORP, KEEPER, T0, Bot, Scene, callback, said, settings_for
from tests.wecom_crypto import cdata

wecom = test_wecom.wecom  # the fake WeCom API


@pytest.fixture
def bot(database_url: str, wecom: FakeWeCom, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """The app on loopback as test_wecom's, on SQLite and, when TEST_DATABASE_URL is set,
    PostgreSQL."""
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    clock = Scene(T0)
    runtime = replace(start(str(EXAMPLE), database_url, settings_for(wecom)), clock=clock)
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.inbox.takes_turn = lambda: True  # the only process: it leads without the scheduler
    service.delivery.start()
    service.inbox.start()
    try:
        port = server.effective_port  # type: ignore[union-attr]
        yield Bot(f"http://127.0.0.1:{port}", runtime, service, wecom, clock)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()


def file_xml(who: str, media_id: str, name: str, msg_id: str) -> str:
    """A member's file message to the app (接收消息: 文件)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(CORP)}</ToUserName><FromUserName>{cdata(who)}</FromUserName>"
        f"<CreateTime>{int(T0.timestamp())}</CreateTime><MsgType>{cdata('file')}</MsgType>"
        f"<MediaId>{cdata(media_id)}</MediaId><FileName>{cdata(name)}</FileName>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT}</AgentID>"
        "</xml>"
    )


def ledger_rows(bot: Bot) -> int:
    with transaction(bot.runtime.engine) as s:
        return s.scalar(select(func.count()).select_from(LedgerRow)) or 0


def test_a_file_sent_to_the_app_is_fetched_shown_and_recorded_once(bot: Bot) -> None:
    media_id = bot.wecom.add_media("盘点.xlsx", keepers_sheet())
    for _ in range(2):  # WeCom retries a callback: one message
        assert callback(bot, file_xml(KEEPER, media_id, "盘点.xlsx", "f1")) == 200
    assert bot.wecom.calls_to("media/get")
    [preview] = bot.wecom.wait_for("message/send")
    shown = str(preview.body)
    assert "导入预览 I1" in shown and "没有这个物料" in shown
    assert ledger_rows(bot) == 0  # nothing until the keeper confirms
    callback(bot, said(KEEPER, "确认导入", T0, "m-confirm"))
    callback(bot, said(KEEPER, "确认导入", T0, "m-again"))  # said twice: recorded once
    replies = [str(c.body) for c in bot.wecom.wait_for("message/send", 3)]
    assert any("已导入 I1" in r and "现有 58 件" in r for r in replies)
    assert ledger_rows(bot) == 1
    # an unknown media_id: nothing stored (WeCom sends it again), nothing recorded
    callback(bot, file_xml(KEEPER, "no-such-media", "x.xlsx", "f2"))
    assert ledger_rows(bot) == 1


def test_export_on_wecom_follows_the_reply_as_a_file_message(bot: Bot) -> None:
    callback(bot, said(KEEPER, "导出", T0, "m-export"))
    sent = bot.wecom.wait_for("message/send", 2)
    [attached] = [c.body for c in sent if c.body.get("msgtype") == "file"]
    assert attached["touser"] == KEEPER
    [upload] = bot.wecom.calls_to("media/upload")
    assert upload.query["type"] == "file"
    book = openpyxl.load_workbook(io.BytesIO(bot.wecom.media(attached["file"]["media_id"])))
    assert book.sheetnames == ["库存", "流水", "补货", "计划", "对账"]
