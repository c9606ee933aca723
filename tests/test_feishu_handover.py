"""Feishu's long connection moves with leadership: the process that stops leading closes its
connection, the new leader opens its own, and every event is handled once. Against the fake
long-connection server (tests/fake_feishu_ws.py) and the fake open API (tests/fake_feishu.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.adapters.feishu.events import build_dispatcher
from bot.adapters.feishu.long_connection import FeishuLongConnection
from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import InboxRow, LedgerRow
from tests.fake_feishu import APP_ID, APP_SECRET, FakeFeishu
from tests.fake_feishu_ws import FakeFeishuWs
from tests.test_feishu import KEEPER, T0, Scene, feishu_config, message_event


@pytest.fixture
def feishu() -> Iterator[FakeFeishu]:
    with FakeFeishu() as fake:
        yield fake


def rows(runtime: Runtime, table: type[InboxRow] | type[LedgerRow]) -> int:
    with transaction(runtime.engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


class Turn:
    """Whether one process leads, as the leader lock would say."""

    def __init__(self) -> None:
        self.held = threading.Event()

    def wait(self, timeout: float) -> bool:
        return self.held.wait(timeout)

    def now(self) -> bool:
        return self.held.is_set()


def settled(runtime: Runtime, ledger: int, timeout: float = 30) -> None:
    """Wait until the inbox's counts are handled into `ledger` rows."""
    deadline = time.monotonic() + timeout
    while rows(runtime, LedgerRow) < ledger and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_connection_moves_with_leadership_and_events_are_handled_once(
    tmp_path: Path, feishu: FakeFeishu
) -> None:
    settings = Settings(feishu_app_id=APP_ID, feishu_app_secret=APP_SECRET,
                        feishu_api_base_url=feishu.base_url)  # fmt: skip
    config, url = str(feishu_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    first, second = start(config, url, settings), start(config, url, settings)  # one database
    turns = Turn(), Turn()
    domain = feishu.base_url.rstrip("/")
    connections = [
        FeishuLongConnection(
            APP_ID, APP_SECRET, build_dispatcher(runtime, "", ""), domain, turn.wait, turn.now
        )
        for runtime, turn in zip((first, second), turns, strict=True)
    ]
    with FakeFeishuWs() as ws:
        feishu.ws_url = ws.url
        for connection in connections:
            connection.start()
        try:
            time.sleep(0.5)
            assert not ws.wait_connected(0.1)  # neither leads: nobody connects
            turns[0].held.set()
            assert ws.wait_connected() and connections[0].connected.wait(10)
            said = message_event(KEEPER, "6205 库存 45", T0, "om_first")
            assert ws.push(said)["code"] == 200

            turns[0].held.clear()  # the first steps down...
            assert ws.closed.wait(10)  # ...and closes its connection
            assert not connections[0].connected.is_set()
            turns[1].held.set()  # the second leads and connects
            assert ws.wait_connected() and connections[1].connected.wait(10)
            assert ws.push(said)["code"] == 200  # Feishu sent the first again: stored once
            assert ws.push(message_event(KEEPER, "6205 领用 5", T0, "om_second"))["code"] == 200
        finally:
            for connection in connections:
                connection.stop()
        assert ws.closed.wait(10)
    assert rows(first, InboxRow) == 2
    for runtime in (first, second):
        runtime.engine.dispose()


@pytest.mark.postgres
def test_two_served_processes_hand_the_connection_over_with_the_leader_lock(
    postgres_url: str, tmp_path: Path, feishu: FakeFeishu, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    settings = Settings(feishu_app_id=APP_ID, feishu_app_secret=APP_SECRET,
                        feishu_api_base_url=feishu.base_url)  # fmt: skip
    config = str(feishu_config(tmp_path))
    services: list[Service] = []
    with FakeFeishuWs() as ws:
        feishu.ws_url = ws.url
        try:
            for _ in range(2):
                runtime = replace(start(config, postgres_url, settings), clock=Scene(T0))
                service = build_service(runtime)
                service.leader.poll_seconds = 0.2
                service.delivery.idle_seconds = 0.05
                service.start_background()
                services.append(service)
                if len(services) == 1:
                    assert ws.wait_connected() and service.leader.leading
            first, second = services
            assert not second.leader.leading
            said = message_event(KEEPER, "6205 库存 45", T0, "om_first")
            assert ws.push(said)["code"] == 200

            first.stop_background()  # the leader stops: its connection closes...
            assert ws.closed.wait(10)
            assert ws.wait_connected(30) and second.leader.leading  # ...the next one's opens
            assert second.long_connections[0].connected.wait(10)
            assert ws.push(said)["code"] == 200  # sent again: stored once
            assert ws.push(message_event(KEEPER, "6205 领用 5", T0, "om_second"))["code"] == 200
            settled(runtime, 2)  # the second's: it handles the inbox now
        finally:
            for service in services:
                service.stop_background()
    assert (rows(runtime, InboxRow), rows(runtime, LedgerRow)) == (2, 2)
    for service in services:
        service.inbox.engine.dispose()
