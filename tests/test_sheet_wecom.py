"""A sheet sent to the WeCom app: a `file` message, fetched with `media/get`, shown row by row
and recorded once when the keeper confirms (the preview's button or 确认导入)."""

from __future__ import annotations

import io

import openpyxl
from sqlalchemy import func, select

from bot.storage.db import transaction
from bot.storage.tables import LedgerRow
from tests import test_wecom
from tests.test_sheet import keepers_sheet
from tests.test_wecom import AGENT, CORP, KEEPER, T0, Bot, callback, said
from tests.wecom_crypto import cdata

bot, wecom = test_wecom.bot, test_wecom.wecom  # the WeCom fixtures: the app and the fake


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
