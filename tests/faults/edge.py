"""`vmi-bot serve`'s web app on loopback with Slack and WeCom both on, against the fake Slack
and WeCom APIs, and the two ways in as the platforms use them: really signed Slack requests
and really encrypted WeCom callbacks. Fault probes start from here and make things go wrong.

    def test_x(edge: Edge) -> None:
        status, _ = edge.slack_post(message_event("6205 库存 45"))
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from tests.fake_slack import FakeSlack
from tests.fake_wecom import FakeWeCom
from tests.support import EXAMPLE, in_thread
from tests.wecom_crypto import encrypt_callback

SLACK_SECRET = "test-signing-secret"
FORM = "application/x-www-form-urlencoded"  # how Slack posts interactions
CHANNEL = "C01VMI"
KEEPER, BUYER, SUPPLIER = "U01KEEPER", "U01BUYER", "U01SUPPLIER"
CORP, WECOM_SECRET, AGENT = "ww-test-corp", "test-secret", "1000002"
TOKEN, AES_KEY = "callback-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class Edge:
    """The served app, its runtime and background parts, and the two fakes."""

    url: str
    runtime: Runtime
    service: Service
    slack: FakeSlack
    wecom: FakeWeCom

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, timeout: float = 10
    ) -> tuple[int, str]:
        """POST raw bytes; the status and the answer's text, whatever the status."""
        request = urllib.request.Request(
            f"{self.url}{path}", data=body, headers=headers or {}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def get(self, path: str, timeout: float = 10) -> tuple[int, str]:
        """GET; the status and the answer's text."""
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def slack_post(
        self,
        body: str | bytes,
        content_type: str = "application/json",
        *,
        secret: str = SLACK_SECRET,
        timestamp: str | None = None,
        signed: bool = True,
        settle: bool = True,
    ) -> tuple[int, str]:
        """POST to /slack/events signed as Slack signs: v0=HMAC-SHA256(secret, v0:ts:body)."""
        raw = body.encode() if isinstance(body, str) else body
        ts = timestamp if timestamp is not None else str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
        if signed:
            mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
            headers["X-Slack-Signature"] = f"v0={mac.hexdigest()}"
        answer = self.post("/slack/events", raw, headers)
        if settle:
            self.settle()
        return answer

    def wecom_post(
        self,
        xml: str,
        *,
        token: str = TOKEN,
        corp: str = CORP,
        timestamp: str = "1763690400",
        settle: bool = True,
    ) -> tuple[int, str]:
        """POST one callback as WeCom does: encrypted, signed, the signature in the query."""
        body, msg_signature = encrypt_callback(
            xml, token=token, aes_key=AES_KEY, corp_id=corp, timestamp=timestamp, nonce="n1"
        )
        query = urllib.parse.urlencode(
            {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": "n1"}
        )
        answer = self.post(f"/wecom/callback?{query}", body.encode())
        if settle:
            self.settle()
        return answer

    def settle(self) -> None:
        """Wait until every stored message is handled."""
        assert self.service.inbox.wait_until_idle(timeout=60)

    def delivered(self, timeout: float = 10) -> None:
        """Wait until the outbox holds nothing waiting to be sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with transaction(self.runtime.engine, read_only=True) as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(col(OutboxRow.state).in_(("pending", "sending")))
                )
            if not waiting:
                return
            self.service.delivery.wake()
            time.sleep(0.02)
        raise AssertionError("the outbox still holds messages to send")

    def count(self, table: Any) -> int:
        """Rows in a table now."""
        with transaction(self.runtime.engine, read_only=True) as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)


def slack_message(text: str, user: str = KEEPER, channel: str = CHANNEL,
                  ts: str | None = None, event_id: str | None = None) -> str:  # fmt: skip
    """An Events API `message` callback, as Slack sends it."""
    ts = ts or f"{time.time():.6f}"
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T01",
            "api_app_id": "A01",
            "event_id": event_id or f"Ev{ts.replace('.', '')}",
            "event_time": int(float(ts)) if ts.replace(".", "", 1).isdigit() else 0,
            "event": {
                "type": "message",
                "channel": channel,
                "channel_type": "channel",
                "user": user,
                "text": text,
                "ts": ts,
            },
        }
    )


def press(action: str, value: str, who: str, message_ts: str, **changes: Any) -> str:
    """A `block_actions` payload as Slack sends it when a card's button is pressed."""
    action_ts = f"{time.time():.6f}"
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T01"},
        "user": {"id": who},
        "api_app_id": "A01",
        "trigger_id": f"trigger-{action_ts}",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": message_ts},
        "message": {"ts": message_ts, "text": "card"},
        "actions": [{"type": "button", "action_id": f"vmi:{action}", "block_id": "vmi_actions",
                     "value": value, "action_ts": action_ts}],
        **changes,
    }  # fmt: skip
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    """The served app with both platforms on, on a SQLite file of its own."""
    with served(tmp_path, monkeypatch, EXAMPLE) as running:
        yield running


@contextmanager
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: Path) -> Iterator[Edge]:
    """The served app for the agreements in `config`, with both platforms on."""
    slack, wecom = FakeSlack().start(), FakeWeCom().start()
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SLACK_SECRET,
        slack_api_base_url=slack.base_url,
        wecom_corp_id=CORP,
        wecom_corp_secret=WECOM_SECRET,
        wecom_agent_id=int(AGENT),
        wecom_token=TOKEN,
        wecom_encoding_aes_key=AES_KEY,
        wecom_api_base_url=wecom.base_url,
        vmi_api_token="api-secret",
    )
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    runtime = start(str(config), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    try:
        yield Edge(f"http://127.0.0.1:{server.effective_port}", runtime, service, slack, wecom)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()
        slack.stop()
        wecom.stop()
