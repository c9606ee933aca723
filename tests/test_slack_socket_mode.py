"""Slack by Socket Mode, end to end: `serve`'s app with SLACK_APP_TOKEN and no signing secret
connects out to a fake Socket Mode server (tests/fake_slack_socket.py, a real websocket) that
apps.connections.open on the fake Web API (tests/fake_slack.py) hands out; events, button
clicks and slash commands come as envelopes, and each is acked only once it is stored."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from websockets.sync.client import ClientConnection

from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.clock import clock_from
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.stock import stock_levels
from bot.storage.tables import InboxRow, LedgerRow, ProposalRow
from tests.fake_slack import FakeSlack
from tests.fake_slack_socket import APP_TOKEN, FakeSlackSocket
from tests.support import EXAMPLE, serve, shanghai

CHANNEL = "C01VMI"
KEEPER, BUYER, SUPPLIER = "U01KEEPER", "U01BUYER", "U01SUPPLIER"
BOT_NOW = datetime(2025, 11, 21, 2, 30, tzinfo=UTC)  # just after the messages' own ts


@dataclass
class Bot:
    runtime: Runtime
    service: Service
    slack: FakeSlack
    socket: FakeSlackSocket

    def deliver(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One envelope, its ack, and the inbox handled after it."""
        ack = self.socket.wait_ack(self.socket.send(kind, payload))
        assert self.service.inbox.wait_until_idle(timeout=60)
        return ack


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    with FakeSlack() as slack, FakeSlackSocket(slack) as socket:
        settings = Settings(slack_bot_token="xoxb-test", slack_app_token=APP_TOKEN,
                            slack_api_base_url=slack.base_url)  # fmt: skip
        runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
        runtime = replace(runtime, clock=clock_from(BOT_NOW, UTC))
        service = build_service(runtime)
        assert service.socket_mode is not None
        service.delivery.idle_seconds = 0.05
        service.delivery.start()
        service.inbox.start()
        service.socket_mode.connect()
        try:
            socket.wait_connected()
            yield Bot(runtime, service, slack, socket)
        finally:
            service.socket_mode.close()
            service.inbox.stop()
            service.delivery.stop()
            runtime.engine.dispose()


def said(text: str, user: str, ts: str, event_id: str) -> dict[str, Any]:
    """An Events API payload, exactly as the HTTP endpoint would get it."""
    return {
        "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": int(float(ts)),
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        "event": {"type": "message", "channel": CHANNEL, "channel_type": "channel",
                  "user": user, "text": text, "ts": ts},
    }  # fmt: skip


def click(action: str, value: str, user: str, message_ts: str, action_ts: str) -> dict[str, Any]:
    """A block_actions payload: over Socket Mode it is the JSON object itself, not a form."""
    return {
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
        "api_app_id": "A1", "token": "legacy", "trigger_id": f"trigger-{action_ts}",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": message_ts},
        "message": {"ts": message_ts, "text": "card"},
        "actions": [{"type": "button", "action_id": f"vmi:{action}", "block_id": "vmi_actions",
                     "value": value, "action_ts": action_ts}],
    }  # fmt: skip


def rows(runtime: Runtime, table: Any) -> int:
    with transaction(runtime.engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_the_seed_through_socket_mode_count_card_confirm_ship_receive(bot: Bot) -> None:
    envelope = bot.socket.send("events_api", said("6205 库存 45", KEEPER, "1763690400.000100",
                                                  "Ev1"))  # fmt: skip
    assert bot.socket.wait_ack(envelope) == {"envelope_id": envelope}
    assert bot.service.inbox.wait_until_idle(timeout=60)
    [reply] = bot.slack.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == "1763690400.000100" and "现有 45 件" in reply.params["text"]

    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, shanghai(2026, 11, 21, 11), platforms=frozenset({"slack"}))
    bot.service.delivery.wake()
    [_, card] = bot.slack.wait_for("chat.postMessage", 2)
    buttons = [b for block in card.params["blocks"] if block["type"] == "actions"
               for b in block["elements"]]  # fmt: skip
    assert (buttons[0]["action_id"], buttons[0]["value"]) == ("vmi:confirm", "P1@55")
    card_ts = card.response["ts"]

    bot.deliver("interactive", click("confirm", "P1@55", BUYER, card_ts, "1763690600.1"))
    [updated] = bot.slack.wait_for("chat.update")
    assert updated.params["ts"] == card_ts and "已确认 P1 · 王采购" in updated.params["text"]

    bot.deliver("events_api", said("发货 P1", SUPPLIER, "1763690700.000100", "Ev2"))
    bot.deliver("events_api", said("入库 P1", KEEPER, "1763690800.000100", "Ev3"))
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "received"
        assert s.scalar(select(ProposalRow.qty)) == 55
        assert stock_levels(s)[("plant-6205", "6205")].on_hand == 100


def test_each_envelope_is_acked_only_after_its_message_is_stored(bot: Bot) -> None:
    stored_at_ack: list[int] = []
    bot.socket.on_ack = lambda _envelope: stored_at_ack.append(rows(bot.runtime, InboxRow))
    bot.deliver("events_api", said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1"))
    bot.deliver("interactive", click("confirm", "P9@5", BUYER, "1763690000.0001", "1763690500.1"))
    assert stored_at_ack == [1, 2]  # the row was there when the ack arrived


@contextmanager
def read_only(engine: Engine) -> Iterator[None]:
    """The database refusing writes (SQLite's query_only) on every connection, for a while."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    event.listen(engine, "connect", on_connect)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", on_connect)
        engine.dispose()


def test_an_envelope_not_stored_is_not_acked_and_slacks_retry_is(bot: Bot) -> None:
    bot.socket.ack_timeout, bot.socket.max_retries = 0.5, 20  # a slow machine: more tries
    with read_only(bot.runtime.engine):
        envelope = bot.socket.send("events_api", said("6205 库存 45", KEEPER, "1763690400.0001",
                                                      "Ev1"))  # fmt: skip
        deadline = time.monotonic() + 30
        while bot.socket.attempts(envelope) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bot.socket.attempts(envelope) >= 2  # not acked: Slack sent it again
        assert bot.socket.acked(envelope) is None
    bot.socket.wait_ack(envelope)  # a later retry, with the database back
    assert bot.service.inbox.wait_until_idle(timeout=60)
    assert rows(bot.runtime, LedgerRow) == 1


def test_the_same_event_delivered_twice_changes_once(bot: Bot) -> None:
    event = said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1")
    bot.deliver("events_api", event)
    bot.deliver("events_api", event)  # Slack's retry of an envelope it thinks went unacked
    bot.deliver("events_api", said("6205 领用 5", KEEPER, "1763690500.000100", "Ev2"))
    bot.deliver("events_api", said("6205 领用 5", KEEPER, "1763690500.000100", "Ev2"))
    assert rows(bot.runtime, LedgerRow) == 2
    assert len(bot.slack.wait_for("chat.postMessage", 2)) == 2


def test_a_refresh_and_a_dropped_connection_are_resumed_and_nothing_is_lost(bot: Bot) -> None:
    bot.socket.disconnect("refresh_requested")
    bot.socket.wait_connected(2)
    bot.deliver("events_api", said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1"))
    bot.socket.drop()  # no close frame: the TCP stream just ends
    bot.socket.wait_connected(3)
    bot.deliver("events_api", said("6205 领用 5", KEEPER, "1763690500.000100", "Ev2"))
    bot.socket.disconnect("warning")
    # sent while the bot is between connections: Slack keeps it for the next one
    envelope = bot.socket.send("events_api", said("6205 领用 3", KEEPER, "1763690600.0001", "E3"))
    bot.socket.wait_ack(envelope)
    assert bot.service.inbox.wait_until_idle(timeout=60)
    with transaction(bot.runtime.engine) as s:
        assert stock_levels(s)[("plant-6205", "6205")].on_hand == 37
    assert len(bot.socket.opened) == bot.socket.connections  # every URL used once, none wasted


def test_the_slash_command_is_acked_and_answered_through_its_response_url(bot: Bot) -> None:
    ack = bot.deliver("slash_commands", {
        "token": "legacy", "team_id": "T1", "channel_id": CHANNEL, "user_id": KEEPER,
        "command": "/vmi", "text": "status", "trigger_id": "trig-1",
        "response_url": bot.slack.address + "/respond/T1/1",
    })  # fmt: skip
    assert set(ack) == {"envelope_id"}
    [answer] = bot.slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"


def test_a_wrong_app_token_is_one_clear_log_line_and_sigterm_closes_cleanly(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_"))}
    with FakeSlack() as slack, FakeSlackSocket(slack) as socket:
        env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-1-A1-not-this-one",
                   SLACK_API_BASE_URL=slack.base_url)  # fmt: skip
        process, stderr_lines = serve(f"sqlite:///{tmp_path / 'wrong.sqlite'}", env)
        try:
            slack.wait_for("apps.connections.open")
            # the refusal may be said before or after "serving on": read until it is (a process
            # that never says it is killed after 30 s, and fails below)
            assert process.stderr is not None
            killer = threading.Timer(30, process.kill)
            killer.start()
            while not any("SLACK_APP_TOKEN" in line for line in stderr_lines):
                line = process.stderr.readline()
                if not line:
                    break
                stderr_lines.append(line)
            killer.cancel()
            process.send_signal(signal.SIGTERM)
            _, rest = process.communicate(timeout=30)
            err = "".join(stderr_lines) + rest
        finally:
            process.kill()
        assert process.returncode == 0
        refused = [line for line in err.splitlines() if "SLACK_APP_TOKEN" in line]
        assert len(refused) == 1 and "invalid_auth" in refused[0], err
        assert "Traceback" not in err
        assert len(slack.calls_to("apps.connections.open")) == 1  # a refused token is not retried

        env["SLACK_APP_TOKEN"] = APP_TOKEN
        process, _ = serve(f"sqlite:///{tmp_path / 'right.sqlite'}", env)
        try:
            socket.wait_connected()
            event = said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1")
            socket.wait_ack(socket.send("events_api", event))
            process.send_signal(signal.SIGTERM)
            socket.wait_closed(timeout=30)  # the bot closes its side
            _, err = process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == 0, err
        assert "Traceback" not in err
    again = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'right.sqlite'}")
    assert rows(again, LedgerRow) == 1
    again.engine.dispose()


def test_the_adjust_forms_errors_come_back_in_the_ack(bot: Bot) -> None:
    bot.deliver("events_api", said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1"))
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, shanghai(2026, 11, 21, 11), platforms=frozenset({"slack"}))
    bot.service.delivery.wake()
    card_ts = bot.slack.wait_for("chat.postMessage", 2)[-1].response["ts"]
    bot.deliver("interactive", click("adjust", "P1", BUYER, card_ts, "1763691000.1"))
    [opened] = bot.slack.wait_for("views.open")
    view = opened.params["view"]

    def submit(qty: str) -> dict[str, Any]:
        values = {"qty": {"value": {"type": "plain_text_input", "value": qty}}}
        return bot.deliver("interactive", {
            "type": "view_submission", "team": {"id": "T1"}, "user": {"id": BUYER},
            "api_app_id": "A1", "token": "legacy",
            "view": {**view, "id": "V1", "state": {"values": values}},
        })  # fmt: skip

    refused = submit("lots")
    assert refused["payload"]["response_action"] == "errors"  # Slack shows it under the field
    assert "payload" not in submit("60")
    [updated] = bot.slack.wait_for("chat.update")
    assert updated.params["ts"] == card_ts
    with transaction(bot.runtime.engine) as s:
        assert s.execute(select(ProposalRow.state, ProposalRow.qty)).one() == ("confirmed", 60)


def test_connecting_again_backs_off_while_slack_fails_and_then_resumes(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.fail_next(2, status=500)  # apps.connections.open fails twice after the drop
    bot.socket.drop()
    bot.socket.wait_connected(2)
    opens = bot.slack.calls_to("apps.connections.open")
    assert [call.status for call in opens[-3:]] == [500, 500, 200]
    assert opens[-1].at - opens[-3].at >= 0.5 + 1.0  # waited between tries, longer each time
    assert sum("could not connect" in r.message for r in caplog.records) == 2
    bot.deliver("events_api", said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1"))
    assert rows(bot.runtime, LedgerRow) == 1


def fail_once(monkeypatch: pytest.MonkeyPatch, method: str) -> list[ClientConnection]:
    """Make the websocket's `method` raise as Python 3.11 does when two threads join one
    thread at once (websockets' keepalive joins the link's reader while close or recv joins it
    too): the race cannot be timed here, so it fails once as it does then. The links it failed
    on are listed."""
    real = getattr(ClientConnection, method)
    failed: list[ClientConnection] = []

    def failing_once(self: ClientConnection, *args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(self)
            raise RuntimeError("release unlocked lock")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ClientConnection, method, failing_once)
    return failed


def test_a_link_whose_close_fails_inside_websockets_is_still_closed_and_followed(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = fail_once(monkeypatch, "close")
    bot.socket.disconnect("refresh_requested")
    bot.socket.wait_connected(2)
    assert failed and failed[0].socket.fileno() == -1  # its socket was closed all the same
    bot.deliver("events_api", said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1"))
    assert rows(bot.runtime, LedgerRow) == 1


def test_a_read_that_fails_inside_websockets_is_followed_by_a_new_connection(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failed = fail_once(monkeypatch, "recv")
    bot.socket.wait_connected(2)
    assert failed
    warned = [r for r in caplog.records if "connecting again" in r.message]
    assert [r.levelname for r in warned] == ["WARNING"]  # a warning, not a traceback
    bot.deliver("events_api", said("6205 库存 45", KEEPER, "1763690400.000100", "Ev1"))
    assert rows(bot.runtime, LedgerRow) == 1
