"""Feishu's callback at the edge (`POST /feishu/events`, FEISHU_MODE=http): bodies over the
limit refused before anything parses them, forged ones refused before anything is stored, a
store that fails answered non-2xx so that Feishu sends the event again, and repeats (the same
event, the same card clicked twice) changing things once. Through the served app on loopback,
with callbacks encrypted and signed as Feishu does, against the fake open API."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.limits import FEISHU_BODY_LIMIT
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import InboxRow, LedgerRow, ProposalRow
from tests.fake_feishu import APP_ID, APP_SECRET, FakeFeishu
from tests.support import in_thread
from tests.test_feishu import (
    BUYER,
    ENCRYPT_KEY,
    FEISHU,
    KEEPER,
    T0,
    TOKEN,
    Scene,
    action_event,
    buttons_of,
    encrypt,
    feishu_config,
    message_event,
)

MARK = "HUGE-FEISHU-BODY"


@dataclass
class FeishuEdge:
    """The served app with Feishu on by HTTP callback, its runtime, and the fake open API."""

    url: str
    runtime: Runtime
    service: Service
    feishu: FakeFeishu

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
        """POST raw bytes to /feishu/events; the status and the answer's text."""
        request = urllib.request.Request(f"{self.url}/feishu/events", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **(headers or {})})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def callback(self, payload: dict[str, Any], *, key: str = ENCRYPT_KEY,
                 sign_key: str = ENCRYPT_KEY, settle: bool = True) -> int:  # fmt: skip
        """One callback as Feishu sends it: encrypted with the app's key, signed over
        timestamp, nonce, key and the body; its status."""
        body = json.dumps({"encrypt": encrypt(json.dumps(payload), key)}).encode()
        stamp, nonce = "1763690400", "nonce-1"
        headers = {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
                   "X-Lark-Signature": sign(stamp, nonce, sign_key, body)}  # fmt: skip
        status, _ = self.post(body, headers)
        if settle:
            assert self.service.inbox.wait_until_idle(timeout=60)
        return status

    def count(self, table: Any) -> int:
        """Rows in a table now."""
        with transaction(self.runtime.engine, read_only=True) as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)


def sign(stamp: str, nonce: str, key: str, body: bytes) -> str:
    """Feishu's signature, written from its documentation: sha256(timestamp+nonce+key+body)."""
    return hashlib.sha256((stamp + nonce + key).encode() + body).hexdigest()


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeishuEdge]:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    with FakeFeishu() as feishu:
        settings = Settings(
            feishu_app_id=APP_ID,
            feishu_app_secret=APP_SECRET,
            feishu_verification_token=TOKEN,
            feishu_encrypt_key=ENCRYPT_KEY,
            feishu_api_base_url=feishu.base_url,
            feishu_mode="http",
        )
        config = str(feishu_config(tmp_path))
        runtime = start(config, f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
        runtime = replace(runtime, clock=Scene(T0))
        service = build_service(runtime)
        server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
        in_thread(server)
        service.delivery.idle_seconds = 0.05
        service.delivery.start()
        service.inbox.start()
        try:
            yield FeishuEdge(f"http://127.0.0.1:{server.effective_port}", runtime, service,
                             feishu)  # fmt: skip
        finally:
            service.inbox.stop()
            service.delivery.stop()
            server.close()
            runtime.engine.dispose()


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


def a_proposal_card(edge: FeishuEdge) -> tuple[str, dict[str, Any]]:
    """The keeper's count of 45, the review's card in the group: its message id and the
    Confirm button's value."""
    assert edge.callback(message_event(KEEPER, "6205 库存 45", T0, "om_count")) == 200
    with transaction(edge.runtime.engine) as s:
        review(s, edge.runtime.config, T0, platforms=FEISHU)
    edge.service.delivery.wake()
    [card] = edge.feishu.wait_for("/im/v1/messages")
    confirm = buttons_of(card.content)[0]["behaviors"][0]["value"]
    assert confirm == {"action": "vmi:confirm", "value": "P1@55"}
    return str(card.answer["data"]["message_id"]), confirm


@pytest.mark.probe("a 10 MB unsigned body on /feishu/events: 413 before it is parsed or logged")
def test_an_oversized_feishu_body_is_refused_before_parsing(
    edge: FeishuEdge, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"encrypt": MARK + "A" * (10 * 1024 * 1024)}).encode()
    with caplog.at_level(logging.INFO):
        assert edge.post(body)[0] == 413
        assert edge.post(b"{" + b" " * FEISHU_BODY_LIMIT)[0] == 413  # one byte over
    assert MARK not in caplog.text
    assert edge.count(InboxRow) == 0
    with urllib.request.urlopen(f"{edge.url}/healthz", timeout=10) as answer:
        assert answer.status == 200


@pytest.mark.probe("Feishu callbacks forged: bad signature, wrong token, wrong key, plain, junk")
def test_forged_feishu_callbacks_are_refused_and_store_nothing(
    edge: FeishuEdge, caplog: pytest.LogCaptureFixture
) -> None:
    said = message_event(KEEPER, "6205 库存 45", T0, "om_forged")
    with caplog.at_level(logging.INFO):
        assert edge.callback(said, sign_key="not-the-key", settle=False) == 403
        assert edge.callback(said, key="another-key", sign_key="another-key", settle=False) == 403
        wrong_token = message_event(KEEPER, "6205 库存 45", T0, "om_forged2", token="guess")
        assert edge.callback(wrong_token, settle=False) == 403
        assert edge.post(json.dumps(said).encode())[0] == 403  # not encrypted: not Feishu's
        assert edge.post(b'{"encrypt": "not base64 at all"}')[0] == 403
        assert edge.post(b"[1, 2")[0] == 400
    assert edge.count(InboxRow) == 0
    assert "6205" not in caplog.text  # refused unread: nothing of the message in the log


@pytest.mark.probe("the database read-only while Feishu posts a count: non-2xx, then stored once")
def test_a_store_failure_is_not_answered_2xx_and_feishus_retry_is_stored_once(
    edge: FeishuEdge,
) -> None:
    said = message_event(KEEPER, "6205 库存 45", T0, "om_retried")
    with read_only(edge.runtime.engine):
        status = edge.callback(said, settle=False)
    assert status >= 500  # Feishu sends it again
    assert edge.count(InboxRow) == 0
    assert edge.callback(said) == 200  # Feishu's retry, the database back
    assert edge.callback(said) == 200  # and once more: nothing new
    assert (edge.count(InboxRow), edge.count(LedgerRow)) == (1, 1)


@pytest.mark.probe("the same Feishu event_id delivered twice: one count")
def test_the_same_event_twice_changes_once(edge: FeishuEdge) -> None:
    said = message_event(KEEPER, "6205 库存 45", T0, "om_twice")
    assert [edge.callback(said) for _ in range(2)] == [200, 200]
    assert (edge.count(InboxRow), edge.count(LedgerRow)) == (1, 1)


@pytest.mark.probe("a Feishu card's Confirm clicked twice (two events) and one click resent")
def test_a_card_clicked_twice_changes_once(edge: FeishuEdge) -> None:
    card_id, confirm = a_proposal_card(edge)
    click = action_event(BUYER, confirm, card_id, T0, "ev-click-1")
    assert edge.callback(click) == 200
    assert edge.callback(click) == 200  # the same event sent again
    assert edge.callback(action_event(BUYER, confirm, card_id, T0, "ev-click-2")) == 200
    edge.service.delivery.wake()
    [patched] = edge.feishu.wait_for("/im/v1/messages/" + card_id)
    assert "王采购" in patched.body["content"]
    already = edge.feishu.wait_for("/im/v1/messages", 2)[-1]
    assert "已经处理过了" in already.content["text"]
    with transaction(edge.runtime.engine) as s:
        assert s.execute(select(ProposalRow.state, ProposalRow.qty)).one() == ("confirmed", 55)
    assert len(edge.feishu.calls_to("/im/v1/messages/" + card_id)) == 1  # patched once
