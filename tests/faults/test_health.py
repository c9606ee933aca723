"""Probes of the health check and of acknowledging what cannot be stored: a database deleted,
replaced, read-only or full under the running server. `/healthz` answers 503 with the reason,
and a platform's message that cannot be stored gets no 2xx, so the platform sends it again."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.storage.db import StoreUnavailable, transaction
from bot.storage.tables import InboxRow
from handlers.conversation import accept
from handlers.incoming import Incoming
from tests.faults.edge import CHANNEL, CORP, SLACK_SECRET, Edge, slack_message
from tests.support import EXAMPLE, in_thread, serve
from tests.wecom_crypto import text_message_xml

WANG = "wangcg"  # the example agreement's warehouse keeper on WeCom


def health(edge: Edge) -> tuple[int, dict[str, Any]]:
    """GET /healthz: the status and its JSON."""
    status, body = edge.get("/healthz")
    return status, json.loads(body)


def count_from_wecom(edge: Edge, n: int, text_: str = "6205 库存 45") -> tuple[int, str]:
    """WeCom's n-th text message from the keeper, not waiting for it to be handled."""
    xml = text_message_xml(WANG, text_, str(n), 1763690400 + n, CORP)
    return edge.wecom_post(xml, settle=False)


def stored_ids(engine: Engine) -> set[str]:
    """The platform message ids in the inbox."""
    with transaction(engine, read_only=True) as session:
        return set(session.scalars(select(InboxRow.platform_message_id)))


@contextmanager
def every_new_connection(engine: Engine, *pragmas: str) -> Iterator[None]:
    """The database as an operator's mistake leaves it: every connection from now on runs
    `pragmas` (SQLite's own read-only and size limits), until the block ends."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        for pragma in pragmas:
            dbapi_conn.execute(pragma)
        dbapi_conn.commit()  # PostgreSQL's session settings last only once committed

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # the pooled connections go; new ones take the pragmas
    try:
        yield
    finally:
        event.remove(engine, "connect", on_connect)
        engine.dispose()


@pytest.mark.probe("the SQLite file deleted under a running server: 503, no message acknowledged")
def test_a_deleted_database_is_unhealthy_and_acknowledges_nothing(edge: Edge) -> None:
    assert health(edge) == (200, {"status": "ok"})
    database = Path(str(edge.runtime.engine.url.database))
    for name in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        name.unlink(missing_ok=True)
    status, body = health(edge)
    assert (status, body["status"]) == (503, "error")
    assert "gone" in body["reason"]
    assert str(database) not in body["reason"]  # the answer is for anyone; the log has the path
    assert count_from_wecom(edge, 1)[0] == 503  # WeCom sends it again later
    slack_answer, _ = edge.slack_post(slack_message("6205 库存 45"), settle=False)
    assert slack_answer == 503  # and so does Slack
    asked = urllib.request.Request(
        f"{edge.url}/api/status", headers={"Authorization": "Bearer api-secret"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:  # not the history as it was
        urllib.request.urlopen(asked, timeout=10)
    assert refused.value.code == 503
    assert not database.exists()  # nothing made a fresh, empty file that would look healthy


@pytest.mark.probe("the SQLite file replaced by another under a running server: 503")
def test_a_replaced_database_is_unhealthy(edge: Edge) -> None:
    database = Path(str(edge.runtime.engine.url.database))
    backup = database.with_name("backup.sqlite")
    with closing(sqlite3.connect(database)) as live, closing(sqlite3.connect(backup)) as copy:
        live.backup(copy)  # a good backup of this very database...
    os.replace(backup, database)  # ...put back by hand under the running server
    status, body = health(edge)
    assert (status, body["reason"]) == (503, "database file replaced")
    assert count_from_wecom(edge, 1)[0] == 503


@pytest.mark.probe("a read-only database: 503 from /healthz and for messages, then recovery")
def test_a_read_only_database_is_unhealthy_until_it_is_writable_again(edge: Edge) -> None:
    engine = edge.runtime.engine
    with every_new_connection(engine, "PRAGMA query_only = ON"):
        assert health(edge) == (503, {"status": "error", "reason": "database is read-only"})
        assert count_from_wecom(edge, 1)[0] == 503
    assert health(edge) == (200, {"status": "ok"})
    assert count_from_wecom(edge, 1)[0] == 200  # WeCom's retry of the same message
    edge.settle()
    assert stored_ids(engine) == {"msg:1"}


def slack_answer(edge: Edge, body: str) -> tuple[int, str | None]:
    """POST a signed Slack event; the status and the Retry-After header, whatever the status."""
    stamp = str(int(time.time()))
    mac = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp}
    headers["X-Slack-Signature"] = f"v0={mac.hexdigest()}"
    request = urllib.request.Request(
        f"{edge.url}/slack/events", data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Retry-After")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Retry-After")


@pytest.mark.probe("a read-only database while Slack posts a count: 503, Retry-After, then once")
def test_a_slack_count_is_acknowledged_only_once_the_database_stores_it(edge: Edge) -> None:
    engine = edge.runtime.engine
    ts = f"{time.time():.6f}"
    event = slack_message("6205 库存 45", ts=ts)
    with every_new_connection(engine, "PRAGMA query_only = ON"):
        assert slack_answer(edge, event) == (503, "60")  # Slack sends it again later
        assert stored_ids(engine) == set()
    assert slack_answer(edge, event) == (200, None)  # Slack's retry of the same event
    assert slack_answer(edge, event) == (200, None)  # and once more: still one message
    edge.settle()
    assert stored_ids(engine) == {f"msg:{CHANNEL}:{ts}"}
    assert "现有 45 件" in edge.slack.wait_for("chat.postMessage")[0].params["text"]


@pytest.mark.probe("a full database: 503 from /healthz; no 200 for a message not stored")
def test_a_full_database_is_unhealthy_and_acknowledges_only_what_it_stored(edge: Edge) -> None:
    engine = edge.runtime.engine
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()
    with every_new_connection(engine, f"PRAGMA max_page_count = {pages}"):
        assert health(edge) == (503, {"status": "error", "reason": "database is full"})
        answers = {}
        for n in range(1, 41):  # until the pages left are used up
            answers[f"msg:{n}"] = count_from_wecom(edge, n, "6205 库存 45 " + "备注" * 300)[0]
            if answers[f"msg:{n}"] != 200:
                break
        acknowledged = {msg for msg, status in answers.items() if status == 200}
        assert set(answers.values()) == {200, 503}  # it filled up, and said so
        assert acknowledged <= stored_ids(engine)


@pytest.mark.postgres
@pytest.mark.probe("a read-only PostgreSQL database: 503 from /healthz, then recovery")
def test_a_read_only_postgres_is_unhealthy(postgres_url: str, tmp_path: Path) -> None:
    runtime = start(str(EXAMPLE), postgres_url)
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=2)
    in_thread(server)
    url = f"http://127.0.0.1:{server.effective_port}"
    edge = Edge(url, runtime, service, None, None)  # type: ignore[arg-type]
    try:
        with every_new_connection(
            runtime.engine, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
        ):
            assert health(edge) == (503, {"status": "error", "reason": "database is read-only"})
        assert health(edge) == (200, {"status": "ok"})
    finally:
        server.close()
        runtime.engine.dispose()


@pytest.mark.postgres
@pytest.mark.probe("a count arriving while PostgreSQL is read-only: refused, then stored once")
def test_a_message_is_not_taken_while_postgres_is_read_only(postgres_url: str) -> None:
    # a message is stored by one statement that commits itself: no transaction of ours
    # around it, so the database's own refusal has to reach the request
    runtime = start(str(EXAMPLE), postgres_url)
    said = Incoming("slack", CHANNEL, "U1", "msg:read-only", datetime.now(UTC), "6205 库存 45",
                    direct=False, addressed=True)  # fmt: skip
    try:
        with every_new_connection(
            runtime.engine, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
        ):
            with pytest.raises(StoreUnavailable) as refused:
                accept(runtime.engine, said)
            assert refused.value.reason == "database is read-only"
            assert stored_ids(runtime.engine) == set()
        first, again = accept(runtime.engine, said), accept(runtime.engine, said)
        assert first is not None and again is None  # the platform's retry: stored once
        assert stored_ids(runtime.engine) == {"msg:read-only"}
    finally:
        runtime.engine.dispose()


@pytest.mark.probe("SIGHUP to vmi-bot serve: it says so and keeps serving")
def test_a_hang_up_signal_is_logged_and_serving_goes_on(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "VMI_"))}
    process, said = serve(f"sqlite:///{tmp_path / 'vmi.sqlite'}", env)
    try:
        address = said[-1].strip().rsplit(" ", 1)[-1]
        process.send_signal(signal.SIGHUP)  # e.g. the terminal it was started from closed
        assert process.stderr is not None
        while "hang-up" not in said[-1] and said[-1]:  # until it says so, or ends
            said.append(process.stderr.readline())
        assert "restart" in said[-1]
        with urllib.request.urlopen(f"{address}/healthz", timeout=10) as answer:
            assert (answer.status, json.loads(answer.read())) == (200, {"status": "ok"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()


@pytest.mark.probe("the database unwritable for many passes: one log line, not a traceback each")
def test_an_unwritable_database_is_logged_once_until_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.runtime.background import BackgroundLoop
    from bot.storage.db import StoreUnavailable

    class Worker(BackgroundLoop):
        name = "worker-under-test"
        passes = 0

        def pass_once(self) -> bool:
            self.passes += 1
            if self.passes <= 50:
                raise StoreUnavailable("database is read-only", "as a test says")
            if self.passes == 51:
                return False
            self._stop.set()
            return False

    worker = Worker(idle_seconds=0)
    caplog.set_level(logging.INFO)
    worker._loop()  # in this thread: it returns once the last pass asks it to stop
    said = [r.getMessage() for r in caplog.records if "worker-under-test" in r.getMessage()]
    assert said == [
        "worker-under-test: waiting for the database: database is read-only: as a test says",
        "worker-under-test: the database can be written again",
    ]
    assert not any(r.exc_info for r in caplog.records)
