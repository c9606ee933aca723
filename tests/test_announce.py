"""Who hears about what, with Slack and WeCom on at once (bot.services.announce decides, each
adapter says how): the bot's app on loopback, the fake Slack and WeCom APIs answering it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.services.reminders import post_reminders
from bot.services.review import review
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from tests.fake_slack import FakeSlack
from tests.fake_wecom import FakeWeCom
from tests.support import EXAMPLE, in_thread, shanghai
from tests.test_wecom import AES_KEY, AGENT, BUYER, CORP, KEEPER, SECRET, TOKEN, callback, said

ALL = frozenset({"console", "slack", "wecom"})
CHANNEL, GROUP = "C01VMI", "wrVMI01"


@dataclass
class Both:
    url: str
    runtime: Runtime
    service: Service
    slack: FakeSlack
    wecom: FakeWeCom

    def cards_to(self, person: str) -> list[dict[str, Any]]:
        """The template cards a person got on WeCom, each as WeCom shows it."""
        sent = [c.body for c in self.wecom.calls_to("message/send")]
        return [b["template_card"] for b in sent if b["touser"] == person and "template_card" in b]

    def deliver(self, timeout: float = 10) -> None:
        """Wait until everything queued for Slack and WeCom has gone out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.service.delivery.wake()
            with transaction(self.runtime.engine, read_only=True) as s:
                waiting = s.scalar(
                    select(func.count()).where(
                        OutboxRow.platform.in_(["slack", "wecom"]),
                        OutboxRow.state.in_(["pending", "sending"]),
                    )
                )
            if not waiting:
                return
            time.sleep(0.05)
        raise TimeoutError("the outbox was not delivered")


@pytest.fixture
def both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Both]:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    slack, wecom = FakeSlack(), FakeWeCom()
    slack.start()
    wecom.start()
    settings = Settings(
        slack_bot_token="xoxb-test", slack_signing_secret="signing",
        slack_api_base_url=slack.base_url, wecom_corp_id=CORP, wecom_corp_secret=SECRET,
        wecom_agent_id=AGENT, wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY,
        wecom_api_base_url=wecom.base_url,
    )  # fmt: skip
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    try:
        yield Both(f"http://127.0.0.1:{server.effective_port}", runtime, service, slack, wecom)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()
        slack.stop()
        wecom.stop()


def confirm_keys(card: dict[str, Any]) -> list[str]:
    return [b["key"] for b in card.get("button_list", [])]


def slack_confirm_values(call: Any) -> list[str]:
    return [e["value"] for block in call.params["blocks"] if block["type"] == "actions"
            for e in block["elements"] if e["action_id"] == "vmi:confirm"]  # fmt: skip


def test_a_proposal_is_one_card_in_the_channel_and_a_card_for_each_decider_on_wecom(
    both: Both,
) -> None:
    callback(both, said(KEEPER, "6205 库存 45", shanghai(2026, 11, 21, 10), "c1"))
    with transaction(both.runtime.engine) as s:
        review(s, both.runtime.config, shanghai(2026, 11, 21, 11), platforms=ALL)
    both.deliver()
    [posted] = both.slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == CHANNEL and slack_confirm_values(posted) == ["P1@55"]
    [group] = both.wecom.wait_for("appchat/send")
    assert group.body["chatid"] == GROUP and "P1" in group.body["markdown"]["content"]
    assert [confirm_keys(c) for c in both.cards_to(BUYER)] == [["confirm:P1@55"]]
    assert [confirm_keys(c) for c in both.cards_to("admin")] == [["confirm:P1@55"]]
    assert both.cards_to(KEEPER) == [] and both.cards_to("ligy") == []  # they do not decide

    # resized: Slack changes its card in place; WeCom, whose cards stay as sent, sends new ones
    callback(both, said(KEEPER, "6205 库存 30", shanghai(2026, 11, 23, 10), "c2"))
    with transaction(both.runtime.engine) as s:
        review(s, both.runtime.config, shanghai(2026, 11, 24, 8), platforms=ALL)
    both.deliver()
    [changed] = both.slack.wait_for("chat.update")
    assert changed.params["ts"] == posted.response["ts"] and "55 → 70" in changed.params["text"]
    assert len(both.slack.calls_to("chat.postMessage")) == 1
    assert [confirm_keys(c) for c in both.cards_to(BUYER)] == [["confirm:P1@55"], ["confirm:P1@70"]]
    assert [confirm_keys(c) for c in both.cards_to("admin")] == [
        ["confirm:P1@55"],
        ["confirm:P1@70"],
    ]
    assert "55 → 70" in both.wecom.calls_to("appchat/send")[-1].body["markdown"]["content"]


def test_a_reminder_goes_to_the_groups_only(both: Both) -> None:
    with transaction(both.runtime.engine) as s:
        post_reminders(s, both.runtime.config, shanghai(2026, 11, 6, 9, 5), platforms=ALL)
    both.deliver()
    slack_posts = [c.params["text"] for c in both.slack.calls_to("chat.postMessage")]
    wecom_posts = [c.body["markdown"]["content"] for c in both.wecom.calls_to("appchat/send")]
    assert slack_posts and all("提醒" in text or "计划" in text for text in slack_posts)
    assert len(wecom_posts) == len(slack_posts)
    assert both.wecom.calls_to("message/send") == []  # nobody privately


def test_an_urgent_change_reaches_everyone_but_the_asker(both: Both) -> None:
    callback(both, said(KEEPER, "6205 库存 100", shanghai(2026, 11, 20, 9), "u1"))
    callback(both, said(BUYER, "紧急 6205 下月需求改为 120", shanghai(2026, 11, 20, 15), "u2"))
    both.deliver()
    [to_buyer] = [c.body for c in both.wecom.calls_to("message/send") if c.body["touser"] == BUYER]
    assert confirm_keys(to_buyer["template_card"]) == ["confirm:P1@20"]  # the reply, once
    assert [confirm_keys(c) for c in both.cards_to("admin")] == [["confirm:P1@20"]]
    [group] = both.wecom.wait_for("appchat/send")
    assert group.body["chatid"] == GROUP and "🔴" in group.body["markdown"]["content"]
    [posted] = both.slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == CHANNEL and slack_confirm_values(posted) == ["P1@20"]
