"""Slack end to end: `vmi-bot serve`'s app on loopback receives really signed requests, and a
fake Slack Web API (tests/fake_slack.py) answers the bot's calls as Slack documents."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from waitress.server import create_server

from bot.adapters.slack import connections
from bot.adapters.slack.sender import SlackSender, slack_client
from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.clock import clock_from
from bot.runtime.context import Runtime
from bot.runtime.delivery import DeliveryWorker
from bot.services.overstock import check_overstock
from bot.services.review import review
from bot.services.settlement import post_statements
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.outbox import Destination, enqueue
from bot.storage.stock import record_count, record_withdrawal
from bot.storage.tables import (
    AmendmentRow,
    InboxRow,
    LedgerRow,
    OutboxRow,
    ProposalRow,
    StatementRow,
)
from handlers.conversation import handle
from handlers.incoming import Incoming
from messages.cards import Card
from tests.fake_slack import FakeSlack
from tests.support import EXAMPLE, in_thread, serve, shanghai

SECRET = "test-signing-secret"
CHANNEL = "C01VMI"
KEEPER, BUYER = "U01KEEPER", "U01BUYER"
BOT_NOW = datetime(2025, 11, 21, 2, 30, tzinfo=UTC)


@dataclass
class Bot:
    url: str
    runtime: Runtime
    service: Service
    slack: FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def bot(tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_base_url=slack.base_url,
        vmi_api_token="api-secret",
    )
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    # the messages below are dated 2025-11-21 02:00-02:10 UTC by their Slack ts: the bot's
    # clock reads just after, so their own times are trusted (said_at), as Slack's would be
    runtime = replace(runtime, clock=clock_from(BOT_NOW, UTC))
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    try:
        yield Bot(f"http://127.0.0.1:{server.effective_port}", runtime, service, slack)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()


def signed_post(
    bot: Bot, body: str, content_type: str, *, secret: str = SECRET, age: int = 0,
    headers: dict[str, str] | None = None, settle: bool = True,
) -> tuple[int, str]:  # fmt: skip
    """POST to /slack/events signed as Slack signs: v0=HMAC-SHA256(secret, v0:ts:body)."""
    ts = str(int(time.time()) - age)
    signature = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{bot.url}/slack/events",
        data=body.encode(),
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={signature}",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    if settle:
        assert bot.service.inbox.wait_until_idle(timeout=60)  # handled just after Slack's answer
    return status, text


def message_event(text: str, user: str = KEEPER, ts: str = "1763690400.000100",
                  event_id: str = "Ev01") -> str:  # fmt: skip
    return json.dumps(
        {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(float(ts)),
            "event": {
                "type": "message",
                "channel": CHANNEL,
                "channel_type": "channel",
                "user": user,
                "text": text,
                "ts": ts,
            },
        }
    )


def click(action: str, value: str, user: str, message_ts: str, action_ts: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": f"trigger-{action_ts}",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": message_ts},
        "message": {"ts": message_ts, "text": "card"},
        "actions": [
            {
                "type": "button",
                "action_id": f"vmi:{action}",
                "block_id": "vmi_actions",
                "value": value,
                "action_ts": action_ts,
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


FORM = "application/x-www-form-urlencoded"


def count_rows(bot: Bot, table: Any) -> int:
    with transaction(bot.runtime.engine) as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def review_now(bot: Bot) -> None:
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, shanghai(2026, 11, 21, 11), platforms=frozenset({"slack"}))
    bot.service.delivery.wake()


def posted_card(bot: Bot) -> Any:
    [card] = [c for c in bot.slack.wait_for("chat.postMessage", 2) if "thread_ts" not in c.params]
    return card


def test_count_review_card_and_one_confirmation(bot: Bot) -> None:
    status, _ = signed_post(bot, message_event("6205 库存 45"), "application/json")
    assert status == 200
    [reply] = bot.slack.wait_for("chat.postMessage")
    assert reply.params["channel"] == CHANNEL and reply.params["thread_ts"] == "1763690400.000100"
    assert "现有 45 件" in reply.params["text"]
    with transaction(bot.runtime.engine) as s:
        count = Incoming.from_json(s.scalars(select(InboxRow.incoming)).one())
        assert s.scalar(select(LedgerRow.at)) == datetime(2025, 11, 21, 2, 0, 0, 100, UTC)
    assert not count.time_doubted  # Slack's own time, near the clock, is the count's time

    review_now(bot)
    card = posted_card(bot)
    buttons = [b for block in card.params["blocks"] if block["type"] == "actions"
               for b in block["elements"]]  # fmt: skip
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("vmi:confirm", "P1@55"), ("vmi:adjust", "P1"), ("vmi:reject", "P1"),
    ]  # fmt: skip
    card_ts = bot.slack.calls_to("chat.postMessage")[-1].response["ts"]

    keeper = signed_post(bot, click("confirm", "P1@55", KEEPER, card_ts, "1763690500.1"), FORM)
    assert keeper[0] == 200
    [refused] = bot.slack.wait_for("chat.postEphemeral")
    assert refused.params["user"] == KEEPER and "采购" in refused.params["text"]

    assert (
        signed_post(bot, click("confirm", "P1@55", BUYER, card_ts, "1763690600.1"), FORM)[0] == 200
    )
    [updated] = bot.slack.wait_for("chat.update")
    assert (updated.params["channel"], updated.params["ts"]) == (CHANNEL, card_ts)
    assert "已确认 P1 · 王采购" in updated.params["text"]
    assert all(block["type"] != "actions" for block in updated.params["blocks"])

    assert (
        signed_post(bot, click("confirm", "P1@55", BUYER, card_ts, "1763690700.1"), FORM)[0] == 200
    )
    _, again = bot.slack.wait_for("chat.postEphemeral", 2)
    assert again.params["user"] == BUYER and "王采购" in again.params["text"]
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "confirmed"


def test_a_retried_event_changes_the_ledger_once(bot: Bot) -> None:
    body = message_event("6205 库存 45")
    assert signed_post(bot, body, "application/json")[0] == 200
    retried = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert signed_post(bot, body, "application/json", headers=retried)[0] == 200
    assert count_rows(bot, LedgerRow) == 1


def test_bad_or_stale_signatures_are_refused_and_change_nothing(bot: Bot) -> None:
    body = message_event("6205 库存 45")
    assert signed_post(bot, body, "application/json", secret="not-the-secret")[0] == 401
    assert signed_post(bot, body, "application/json", age=60 * 10)[0] == 401
    assert count_rows(bot, LedgerRow) == 0


def test_user_text_cannot_ping_the_channel_or_hide_a_link(bot: Bot) -> None:
    signed_post(bot, message_event("6205 库存 45"), "application/json")
    review_now(bot)
    bot.slack.wait_for("chat.postMessage", 2)
    text = "拒绝 P1 <!channel> 看 <http://evil.example|银行>"
    signed_post(bot, message_event(text, user=BUYER, ts="1763690900.000100", event_id="Ev9"),
                "application/json")  # fmt: skip
    reply = bot.slack.wait_for("chat.postMessage", 3)[-1]
    assert "<!channel>" not in json.dumps(reply.params, ensure_ascii=False)
    # echoed as text, not as a link: escaped in the mrkdwn notification text, and in the blocks
    # only ever as plain text, which Slack shows as it is
    assert "&lt;http://evil.example|银行" in reply.params["text"]
    echoed = [t for block in reply.params["blocks"] for t in _text_objects(block)
              if "evil.example" in t["text"]]  # fmt: skip
    assert echoed and all(t["type"] == "plain_text" for t in echoed)


def _text_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text", "text") and "text" in node:
            yield node
        for value in node.values():
            yield from _text_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _text_objects(value)


def test_adjust_opens_a_form_that_checks_the_quantity(bot: Bot) -> None:
    signed_post(bot, message_event("6205 库存 45"), "application/json")
    review_now(bot)
    bot.slack.wait_for("chat.postMessage", 2)
    card_ts = bot.slack.calls_to("chat.postMessage")[-1].response["ts"]
    signed_post(bot, click("adjust", "P1", BUYER, card_ts, "1763691000.1"), FORM)
    [opened] = bot.slack.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view

    def submit(qty: str) -> tuple[int, str]:
        payload = {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": BUYER},
            "api_app_id": "A1",
            "token": "legacy",
            "view": {**view, "id": "V1", "state": {"values": {"qty": {"value": {
                "type": "plain_text_input", "value": qty}}}}},
        }  # fmt: skip
        return signed_post(bot, urllib.parse.urlencode({"payload": json.dumps(payload)}), FORM)

    status, answer = submit("lots")
    assert status == 200 and json.loads(answer)["response_action"] == "errors"
    assert submit("60")[0] == 200
    [updated] = bot.slack.wait_for("chat.update")
    assert updated.params["ts"] == card_ts and "60 pcs" in updated.params["text"]
    with transaction(bot.runtime.engine) as s:
        assert s.execute(select(ProposalRow.state, ProposalRow.qty)).one() == ("confirmed", 60)


def test_the_slash_command_answers_the_caller_only_in_any_channel(bot: Bot) -> None:
    # in a channel the bot is not in: the answer goes through the command's response_url
    body = urllib.parse.urlencode(
        {"command": "/vmi", "text": "状态", "user_id": KEEPER, "channel_id": "COTHER",
         "trigger_id": "t-1", "team_id": "T1", "token": "legacy",
         "response_url": f"{bot.slack.address}/respond/T1/1/abc"}
    )  # fmt: skip
    assert signed_post(bot, body, FORM)[0] == 200
    [answer] = bot.slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral" and "库存状态" in answer.params["text"]
    assert bot.slack.calls_to("chat.postMessage") == []


def test_health_and_the_status_api(bot: Bot) -> None:
    with urllib.request.urlopen(f"{bot.url}/healthz", timeout=5) as answer:
        assert json.loads(answer.read()) == {"status": "ok"}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{bot.url}/api/status", timeout=5)
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{bot.url}/api/status", headers={"Authorization": "Bearer api-secret"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        document = json.loads(answer.read())
    assert document["agreements"][0]["items"][0]["sku"] == "6205"


def test_without_an_api_token_the_status_api_is_not_there(tmp_path: Path) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    client = build_service(runtime).app.test_client()
    assert client.get("/api/status").status_code == 404
    runtime.engine.dispose()


# --- delivery -----------------------------------------------------------------------------------


def queue(runtime: Runtime, texts: list[str], chat: str = CHANNEL) -> None:
    with transaction(runtime.engine) as s:
        for text in texts:
            enqueue(s, Destination("slack", chat), Card(text), shanghai(2026, 11, 21, 10))


def test_rate_limits_and_server_errors_delay_but_keep_the_order(
    tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    queue(runtime, ["one", "two", "three"])
    slack.fail_next(1, status=429, retry_after=1)
    slack.fail_next(2, status=500)
    worker = DeliveryWorker(
        runtime.engine,
        {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))},
        idle_seconds=0.05,
    )
    worker.start()
    try:
        posted = slack.wait_for("chat.postMessage", 6, timeout=20)
    finally:
        worker.stop()
    delivered = [c.params["text"] for c in posted if c.status == 200]
    assert delivered == ["one", "two", "three"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(posted)]
    assert gaps[0] >= 0.9  # Retry-After: 1 was honoured
    runtime.engine.dispose()


def test_a_mornings_answers_go_over_kept_connections_and_survive_them_closing(
    tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    chats = ["C01", "C02", "C03", "C04", "C05", "C06"]
    for chat in chats:
        queue(runtime, [f"{chat} {n}" for n in range(4)], chat)
    worker = DeliveryWorker(
        runtime.engine, {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))}
    )
    while worker.run_once():
        pass
    for chat in chats:  # every answer, each chat's in order
        assert [m["text"] for m in slack.messages_in(chat)] == [f"{chat} {n}" for n in range(4)]
    # one connection per sending thread at most, not one per answer (a TLS handshake each)
    assert slack.connections <= worker.parallel
    kept = slack.connections

    slack.drop_connections()  # as Slack ends idle connections: the next answers reconnect
    queue(runtime, ["after the close"], "C01")
    while worker.run_once():
        pass
    assert slack.messages_in("C01")[-1]["text"] == "after the close"
    assert slack.connections == kept + 1

    # after a long quiet a kept connection may be gone without a word: a new one is opened
    monkeypatch.setattr(connections, "IDLE_SECONDS", -1.0)
    queue(runtime, ["after a quiet night"], "C02")
    while worker.run_once():
        pass
    assert slack.messages_in("C02")[-1]["text"] == "after a quiet night"
    assert slack.connections == kept + 2
    worker.stop()
    runtime.engine.dispose()


def test_slack_out_of_reach_keeps_the_answer_for_a_later_try(tmp_path: Path) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    gone = FakeSlack().start()
    address = gone.base_url
    gone.stop()  # nothing listens there now: the connection is refused
    queue(runtime, ["waits"])
    worker = DeliveryWorker(
        runtime.engine, {"slack": SlackSender(slack_client("xoxb-test", address))}
    )
    worker.run_once()
    with transaction(runtime.engine, read_only=True) as session:
        row = session.scalars(select(OutboxRow)).one()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("network:")
    worker.stop()
    runtime.engine.dispose()


def test_a_restart_delivers_what_was_left_exactly_once(tmp_path: Path, slack: FakeSlack) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    first = start(str(EXAMPLE), url)
    queue(first, ["left behind 1", "left behind 2"])
    first.engine.dispose()  # the bot stopped before delivering

    again = start(str(EXAMPLE), url)
    sender = SlackSender(slack_client("xoxb-test", slack.base_url))
    worker = DeliveryWorker(again.engine, {"slack": sender})
    assert [worker.run_once() for _ in range(4)] == [1, 1, 0, 0]
    assert [c.params["text"] for c in slack.calls_to("chat.postMessage")] == [
        "left behind 1",
        "left behind 2",
    ]
    again.engine.dispose()


def test_a_channel_that_does_not_exist_fails_the_message_once(
    tmp_path: Path, slack: FakeSlack, caplog: Any
) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    queue(runtime, ["lost"], chat="CGONE")
    queue(runtime, ["fine"])
    slack.error_for("chat.postMessage", "channel_not_found", count=1)
    sender = SlackSender(slack_client("xoxb-test", slack.base_url))
    # one chat after the other: the scripted error is for the first post, the lost channel's
    worker = DeliveryWorker(runtime.engine, {"slack": sender}, parallel=1)
    worker.run_once()
    worker.run_once()
    with transaction(runtime.engine) as s:
        rows = s.execute(select(OutboxRow.chat, OutboxRow.state, OutboxRow.last_error)).all()
    assert sorted(rows) == [("C01VMI", "sent", ""), ("CGONE", "failed", "channel_not_found")]
    assert sum("channel_not_found" in r.message for r in caplog.records) == 1
    runtime.engine.dispose()


def test_serve_stops_on_sigterm_after_handling_what_it_accepted(
    tmp_path: Path, slack: FakeSlack
) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    slack.error_for("chat.postMessage", "service_unavailable")  # replies must wait in the outbox
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_BASE_URL=slack.base_url)  # fmt: skip
    process, said = serve(url, env)
    try:
        address = said[-1].strip().rsplit(" ", 1)[-1]
        served = Bot(address, None, None, slack)  # type: ignore[arg-type]
        with urllib.request.urlopen(f"{address}/healthz", timeout=5) as answer:
            assert answer.status == 200
        status, _ = signed_post(served, message_event("6205 库存 45"), "application/json",
                                settle=False)  # fmt: skip
        assert status == 200
        process.send_signal(signal.SIGTERM)  # at once: the count is stored, maybe not handled
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    again = start(str(EXAMPLE), url)
    with transaction(again.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1  # handled before exit
        assert s.scalar(select(OutboxRow.state)) == "pending"  # kept for the next start
    again.engine.dispose()


def test_a_count_below_min_gets_a_warning_reaction_beside_its_thread_reply(bot: Bot) -> None:
    signed_post(bot, message_event("6205 库存 80"), "application/json")  # fine: no mark
    signed_post(bot, message_event("6205 库存 45", ts="1763690500.000100", event_id="Ev2"),
                "application/json")  # fmt: skip
    [reaction] = bot.slack.wait_for("reactions.add")
    assert reaction.params == {"channel": CHANNEL, "timestamp": "1763690500.000100",
                               "name": "warning"}  # fmt: skip
    replies = bot.slack.wait_for("chat.postMessage", 2)
    assert [r.params["thread_ts"] for r in replies] == ["1763690400.000100", "1763690500.000100"]


def test_an_app_token_turns_on_socket_mode_with_the_same_listeners(
    tmp_path: Path, slack: FakeSlack
) -> None:
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                        slack_api_base_url=slack.base_url, slack_app_token="xapp-test")  # fmt: skip
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    service = build_service(runtime)
    assert service.socket_mode is not None
    assert service.socket_mode.app is service.slack_app.bolt
    runtime.engine.dispose()


def event_of(kind: str, event_id: str, **fields: Any) -> str:
    event = {"type": kind, "channel": CHANNEL, "channel_type": "channel", **fields}
    return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1",
                       "type": "event_callback", "event_id": event_id, "event_time": 1,
                       "event": event})  # fmt: skip


def test_mentions_edits_bots_and_lunch_talk(bot: Bot) -> None:
    # an edit, a deletion and a bot's own message change nothing and get no answer
    signed_post(bot, event_of("message", "E1", subtype="message_changed",
                              message={"user": KEEPER, "text": "6205 库存 1"}, ts="1.1"),
                "application/json")  # fmt: skip
    signed_post(bot, event_of("message", "E2", subtype="message_deleted", ts="1.2"),
                "application/json")  # fmt: skip
    signed_post(bot, event_of("message", "E3", bot_id="B1", user=KEEPER, text="6205 库存 2",
                              ts="1.3"), "application/json")  # fmt: skip
    # people talk about lunch in the channel: no answer unless they mention the bot
    signed_post(bot, event_of("message", "E4", user=KEEPER, text="中午吃什么", ts="1.4"),
                "application/json")  # fmt: skip
    # a mention arrives twice (message and app_mention): one answer, one count
    mention = {"user": KEEPER, "text": "<@UBOT> 6205 库存 45", "ts": "1.5"}
    signed_post(bot, event_of("message", "E5", **mention), "application/json")
    signed_post(bot, event_of("app_mention", "E6", **mention), "application/json")
    signed_post(bot, event_of("app_mention", "E7", user=KEEPER, text="<@UBOT> 中午吃什么",
                              ts="1.6"), "application/json")  # fmt: skip
    # the bot's own post without a bot_id (once who the bot is has been learned) is not heard
    signed_post(bot, event_of("message", "E9", user="UBOT", text="<@UBOT> 6205 库存 3",
                              ts="1.7"), "application/json")  # fmt: skip
    replies = bot.slack.wait_for("chat.postMessage", 2)
    time.sleep(0.3)  # anything more would have been sent by now
    assert [r.params["thread_ts"] for r in bot.slack.calls_to("chat.postMessage")] == ["1.5", "1.6"]
    assert "现有 45 件" in replies[0].params["text"] and "没看懂" in replies[1].params["text"]
    assert count_rows(bot, LedgerRow) == 1


def test_a_direct_message_is_always_answered(bot: Bot) -> None:
    body = json.loads(event_of("message", "E8", user=BUYER, text="你好", ts="2.1"))
    body["event"].update(channel="D01BUYER", channel_type="im")
    signed_post(bot, json.dumps(body), "application/json")
    [reply] = bot.slack.wait_for("chat.postMessage")
    assert reply.params["channel"] == "D01BUYER" and "能听懂" in reply.params["text"]


def test_a_message_left_sending_by_a_dead_process_goes_once_and_blocks_its_chat_meanwhile(
    tmp_path: Path, slack: FakeSlack
) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    queue(runtime, ["first", "second"])
    clock = [datetime.now(UTC)]
    worker = DeliveryWorker(
        runtime.engine,
        {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))},
        clock=lambda: clock[0],
    )
    with transaction(runtime.engine) as s:  # another process took "first" and then died
        taken = update(OutboxRow).where(OutboxRow.id == 1)
        s.execute(taken.values(state="sending", claimed_at=clock[0]))
    assert worker.run_once() == 0  # "second" waits behind the message in flight
    clock[0] += delivery_module.STALE_CLAIM + timedelta(seconds=1)
    while worker.run_once():
        pass
    assert [c.params["text"] for c in slack.calls_to("chat.postMessage")] == ["first", "second"]
    runtime.engine.dispose()


def test_a_chat_in_backoff_does_not_hold_up_another(tmp_path: Path, slack: FakeSlack) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    queue(runtime, [f"busy {i}" for i in range(60)], chat="CBUSY")
    queue(runtime, ["other"])
    slack.error_for("chat.postMessage", "internal_error", count=1)  # CBUSY's first: retry later
    worker = DeliveryWorker(
        runtime.engine,
        {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))},
        parallel=1,  # one chat after the other, so the scripted error is CBUSY's
    )
    while worker.run_once():
        pass
    delivered = [c.params["text"] for c in slack.calls_to("chat.postMessage") if c.response["ok"]]
    assert delivered == ["other"]  # and busy 1..59 wait behind busy 0, in order
    runtime.engine.dispose()


def test_a_channel_of_no_agreement_is_not_read(bot: Bot) -> None:
    body = json.loads(message_event("6205 库存 45"))
    body["event"]["channel"] = "CRANDOM"
    assert signed_post(bot, json.dumps(body), "application/json")[0] == 200
    assert count_rows(bot, LedgerRow) == 0
    time.sleep(0.2)
    assert bot.slack.calls_to("chat.postMessage") == []


def test_a_reply_in_a_thread_is_answered_in_that_thread_and_marked_itself(bot: Bot) -> None:
    body = json.loads(message_event("6205 库存 45", ts="1763690600.000200", event_id="Ev7"))
    body["event"]["thread_ts"] = "1763690000.000100"  # said as a reply in an older thread
    signed_post(bot, json.dumps(body), "application/json")
    [reply] = bot.slack.wait_for("chat.postMessage")
    [reaction] = bot.slack.wait_for("reactions.add")
    assert reply.params["thread_ts"] == "1763690000.000100"
    assert reaction.params["timestamp"] == "1763690600.000200"


def test_a_resized_proposal_changes_its_card_in_place(bot: Bot) -> None:
    signed_post(bot, message_event("6205 库存 45"), "application/json")
    review_now(bot)
    card = posted_card(bot)
    card_ts = card.response["ts"]
    signed_post(bot, message_event("6205 库存 30", ts="1763690500.000100", event_id="Ev2"),
                "application/json")  # fmt: skip
    bot.slack.wait_for("chat.postMessage", 3)  # the second count's thread reply
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, shanghai(2026, 11, 24, 8), platforms=frozenset({"slack"}))
    bot.service.delivery.wake()
    [changed] = bot.slack.wait_for("chat.update")
    assert changed.params["ts"] == card_ts and "55 → 70" in changed.params["text"]
    confirm = [b["value"] for block in changed.params["blocks"] if block["type"] == "actions"
               for b in block["elements"] if b["action_id"] == "vmi:confirm"]  # fmt: skip
    assert confirm == ["P1@70"]
    cards = [c for c in bot.slack.calls_to("chat.postMessage") if "thread_ts" not in c.params]
    assert len(cards) == 1  # no second card


def test_slack_markup_is_undone_before_the_conversation_reads_the_text(bot: Bot) -> None:
    signed_post(bot, message_event("6205 库存 45"), "application/json")
    review_now(bot)
    bot.slack.wait_for("chat.postMessage", 2)
    # as Slack sends what the buyer typed: "@VMI 拒绝 P1 @王仓管 说 <库存> 不对 & 太多"
    typed = "<@UBOT> 拒绝 P1 <@U01KEEPER> 说 &lt;库存&gt; 不对 &amp; 太多"
    signed_post(bot, message_event(typed, user=BUYER, ts="1763690900.000100", event_id="Ev9"),
                "application/json")  # fmt: skip
    with transaction(bot.runtime.engine) as s:
        heard = s.scalar(select(InboxRow.text).order_by(InboxRow.id.desc()))
    assert " ".join(heard.split()) == "拒绝 P1 说 <库存> 不对 & 太多"
    reply = bot.slack.wait_for("chat.postMessage", 3)[-1]
    assert "说 &lt;库存&gt; 不对 &amp; 太多" in reply.params["text"]  # shown as typed


def test_a_message_needing_attention_gets_slacks_warning_emoji(
    tmp_path: Path, slack: FakeSlack
) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with transaction(runtime.engine) as s:
        mark = Destination("slack", CHANNEL, mode="react", ref=f"{CHANNEL}:1763690500.000100")
        enqueue(s, mark, Card("attention"), shanghai(2026, 11, 21, 10))
    worker = DeliveryWorker(
        runtime.engine, {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))}
    )
    assert worker.run_once() == 1
    [reaction] = slack.calls_to("reactions.add")
    assert reaction.params == {"channel": CHANNEL, "timestamp": "1763690500.000100",
                               "name": "warning"}  # fmt: skip
    runtime.engine.dispose()


def test_the_statement_is_confirmed_by_each_sides_button_in_the_channel(bot: Bot) -> None:
    with transaction(bot.runtime.engine) as s:
        record_count(s, "plant-6205", "6205", 100, shanghai(2025, 10, 1, 10), member_id="keeper")
        record_withdrawal(s, "plant-6205", "6205", 85, shanghai(2025, 10, 10, 10))
        post_statements(s, bot.runtime.config, BOT_NOW, platforms=frozenset({"slack"}))
    bot.service.delivery.wake()
    [card] = bot.slack.wait_for("chat.postMessage")
    assert "1,062.50" in card.params["text"]
    buttons = [b for block in card.params["blocks"] if block["type"] == "actions"
               for b in block["elements"]]  # fmt: skip
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [
        ("vmi:confirm_statement", "S1@1~buyer", "确认对账 (采购方)"),
        ("vmi:confirm_statement", "S1@1~supplier", "确认对账 (供应商)"),
        ("vmi:dispute_statement", "S1", "对账有误"),
    ]
    card_ts = card.response["ts"]

    keeper = click("confirm_statement", "S1@1~buyer", KEEPER, card_ts, "1763690500.1")
    assert signed_post(bot, keeper, FORM)[0] == 200
    [refused] = bot.slack.wait_for("chat.postEphemeral")
    assert refused.params["user"] == KEEPER and "确认对账" in refused.params["text"]

    buyer = click("confirm_statement", "S1@1~buyer", BUYER, card_ts, "1763690600.1")
    assert signed_post(bot, buyer, FORM)[0] == 200
    [updated] = bot.slack.wait_for("chat.update")
    assert "已确认对账 S1 · 王采购（采购方）" in updated.params["text"]
    left = [b["value"] for block in updated.params["blocks"] if block["type"] == "actions"
            for b in block["elements"]]  # fmt: skip
    assert "S1@1~supplier" in left  # the supplier's button is still there to press

    supplier = click("confirm_statement", "S1@1~supplier", "U01SUPPLIER", card_ts, "1763690700.1")
    assert signed_post(bot, supplier, FORM)[0] == 200
    _, locked = bot.slack.wait_for("chat.update", 2)
    assert "S1 双方已确认，已锁定" in locked.params["text"]
    with transaction(bot.runtime.engine) as s:
        signed = s.execute(
            select(StatementRow.state, StatementRow.buyer_by, StatementRow.supplier_by)
        ).one()
    assert tuple(signed) == ("locked", "王采购", "李供应")


def test_an_overstock_alert_is_decided_by_a_button_once(bot: Bot) -> None:
    counted = BOT_NOW - timedelta(days=31)  # 130 on the shelf a month ago, none withdrawn
    handle(bot.runtime.engine, bot.runtime.config,
           Incoming("console", "plant-6205", "keeper", "c1", counted, "6205 库存 130"))  # fmt: skip
    with transaction(bot.runtime.engine) as s:
        check_overstock(s, bot.runtime.config, BOT_NOW - timedelta(hours=1),
                        platforms=frozenset({"slack"}))  # fmt: skip
    bot.service.delivery.wake()
    [card] = bot.slack.wait_for("chat.postMessage")  # the alert, to the agreement's channel
    assert card.params["channel"] == CHANNEL and "积压 O1" in card.params["text"]
    buttons = [b for block in card.params["blocks"] if block["type"] == "actions"
               for b in block["elements"]]  # fmt: skip
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("vmi:return", "O1@30"), ("vmi:discount", "O1"), ("vmi:keep", "O1"),
    ]  # fmt: skip
    card_ts = card.response["ts"]

    signed_post(bot, click("return", "O1@30", KEEPER, card_ts, "1763690500.1"), FORM)
    [refused] = bot.slack.wait_for("chat.postEphemeral")
    assert refused.params["user"] == KEEPER and "采购" in refused.params["text"]

    assert (
        signed_post(bot, click("return", "O1@30", BUYER, card_ts, "1763690600.1"), FORM)[0] == 200
    )
    [updated] = bot.slack.wait_for("chat.update")
    assert (
        updated.params["ts"] == card_ts and "积压 O1 已定：退货 · 王采购" in updated.params["text"]
    )
    assert all(block["type"] != "actions" for block in updated.params["blocks"])

    signed_post(bot, click("keep", "O1", BUYER, card_ts, "1763690700.1"), FORM)
    _, again = bot.slack.wait_for("chat.postEphemeral", 2)
    assert again.params["user"] == BUYER and "已经由王采购定为「退货」" in again.params["text"]
    with transaction(bot.runtime.engine) as s:
        moved = [(r.kind, r.qty) for r in s.scalars(select(LedgerRow).order_by(LedgerRow.id))]
    assert moved == [("count", 130), ("return", 30)]


def test_the_suggestions_button_proposes_the_change_in_the_channel(bot: Bot) -> None:
    with transaction(bot.runtime.engine) as s:
        record_count(s, "plant-6205", "6205", 100, shanghai(2025, 10, 22, 10), member_id="keeper")
        for day in range(23, 32):  # 9 a day for the month before
            record_withdrawal(s, "plant-6205", "6205", 9, shanghai(2025, 10, day, 10))
    ask = message_event("建议 6205", BUYER, ts="1763690400.000200", event_id="Ev02")
    assert signed_post(bot, ask, "application/json")[0] == 200
    [card] = bot.slack.wait_for("chat.postMessage")
    [button] = [b for block in card.params["blocks"] if block["type"] == "actions"
                for b in block["elements"]]  # fmt: skip
    assert (button["action_id"], button["text"]["text"]) == ("vmi:amend", "按建议修改")
    sku, low, high = button["value"].split(":")
    assert sku == "6205" and (low, high) != ("50", "100")
    card_ts = card.response["ts"]

    keeper = click("amend", button["value"], KEEPER, card_ts, "1763690500.1")
    assert signed_post(bot, keeper, FORM)[0] == 200
    [refused] = bot.slack.wait_for("chat.postEphemeral")
    assert refused.params["user"] == KEEPER and "采购" in refused.params["text"]

    buyer = click("amend", button["value"], BUYER, card_ts, "1763690600.1")
    assert signed_post(bot, buyer, FORM)[0] == 200
    [proposed] = bot.slack.wait_for("chat.update")  # the card becomes the amendment
    assert proposed.params["ts"] == card_ts and f"补货线：50 → {low}" in proposed.params["text"]
    agree = [b for block in proposed.params["blocks"] if block["type"] == "actions"
             for b in block["elements"]]  # fmt: skip
    assert [(b["action_id"], b["value"]) for b in agree] == [
        ("vmi:amend_agree", "A1"), ("vmi:amend_reject", "A1"),
    ]  # fmt: skip

    supplier = click("amend_agree", "A1", "U01SUPPLIER", card_ts, "1763690700.1")
    assert signed_post(bot, supplier, FORM)[0] == 200
    _, agreed = bot.slack.wait_for("chat.update", 2)
    assert "修改 A1 已生效" in agreed.params["text"]
    with transaction(bot.runtime.engine) as s:
        row = s.scalars(select(AmendmentRow)).one()
    assert (row.state, row.proposed_by, row.decided_by) == ("applied", "buyer", "supplier")
