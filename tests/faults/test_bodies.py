"""Request bodies are bounded before anything parses them: over a path's limit the answer is 413,
at once, for bodies with a length and for chunked ones, and the server keeps answering."""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.bootstrap import start
from bot.app.limits import SLACK_BODY_LIMIT, WECOM_BODY_LIMIT, BodyLimit
from bot.storage.db import transaction
from bot.storage.tables import InboxRow, LedgerRow, OutboxRow
from handlers.conversation import handle
from handlers.incoming import Incoming
from tests.faults.edge import CORP, Edge, slack_message
from tests.support import EXAMPLE
from tests.wecom_crypto import text_message_xml

TEN_MB = 10 * 1024 * 1024
MARK = "HUGE-BODY-MARK"


def huge_xml(size: int = TEN_MB) -> bytes:
    """An unsigned WeCom-looking callback of about `size` bytes."""
    head = f"<xml><ToUserName>{MARK}</ToUserName><Encrypt><![CDATA[".encode()
    tail = b"]]></Encrypt></xml>"
    return head + b"A" * (size - len(head) - len(tail)) + tail


def huge_json(size: int = TEN_MB) -> bytes:
    """A Slack event whose text makes the body about `size` bytes."""
    shell = slack_message(f"{MARK} " + "x" * size)
    return shell.encode()[:size] + b'"}}'


def in_parallel(calls: list[Any]) -> list[Any]:
    """Run the calls at once, each in its own thread; their results, in order."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def chunked_post(edge: Edge, path: str, chunks: Iterable[bytes]) -> int:
    """POST with Transfer-Encoding: chunked and no Content-Length; the status."""
    host, port = edge.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", path, body=iter(chunks), encode_chunked=True)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.probe(
    "8 concurrent unsigned 10 MB XML bodies on /wecom/callback while /healthz is asked"
)
def test_a_flood_of_huge_wecom_bodies_gets_413_and_healthz_answers(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    body = huge_xml()
    flood = [lambda: edge.post("/wecom/callback?msg_signature=x", body, timeout=60)] * 8
    health: list[tuple[int, str]] = []
    asker = threading.Thread(target=lambda: health.append(edge.get("/healthz", timeout=60)))
    with caplog.at_level(logging.INFO):
        asker.start()
        answers = in_parallel(flood)
        asker.join(timeout=90)
    assert [status for status, _ in answers] == [413] * 8
    assert health and health[0][0] == 200
    assert edge.get("/healthz")[0] == 200
    assert edge.count(InboxRow) == 0
    assert MARK not in caplog.text and len(caplog.text) < 8 * 1000  # a line each, no bodies


@pytest.mark.probe("4 concurrent signed 10 MB JSON bodies on /slack/events")
def test_huge_slack_bodies_get_413_before_they_are_parsed(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    body = huge_json()
    with caplog.at_level(logging.INFO):
        answers = in_parallel([lambda: edge.slack_post(body, settle=False)] * 4)
    assert [status for status, _ in answers] == [413] * 4
    assert edge.get("/healthz")[0] == 200
    assert edge.count(InboxRow) == 0
    assert MARK not in caplog.text


@pytest.mark.probe("a 10 MB chunked body without Content-Length on /wecom/callback")
def test_a_huge_chunked_body_gets_413(edge: Edge) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(160):
            yield b"<" * (64 * 1024)

    assert chunked_post(edge, "/wecom/callback?msg_signature=x", chunks()) == 413
    assert chunked_post(edge, "/slack/events", chunks()) == 413
    assert edge.get("/healthz")[0] == 200


@pytest.mark.probe("bodies one byte over each path's limit, and at it")
def test_the_limits_are_exact_per_path(edge: Edge) -> None:
    assert edge.post("/wecom/callback", b"<" * (WECOM_BODY_LIMIT + 1))[0] == 413
    assert edge.post("/wecom/callback", b"<" * WECOM_BODY_LIMIT)[0] == 400  # read, and refused
    assert edge.slack_post(b"{" * (SLACK_BODY_LIMIT + 1), settle=False)[0] == 413
    # at the limit Slack's own checks see it: a body that is no JSON is no event
    assert edge.slack_post(b" " * SLACK_BODY_LIMIT, settle=False)[0] != 413
    assert edge.post("/healthz", b"x" * (1024 * 1024))[0] == 413


@pytest.mark.probe("an ordinary signed Slack message, and a small chunked body")
def test_ordinary_bodies_pass_also_chunked(edge: Edge) -> None:
    status, _ = edge.slack_post(slack_message("6205 库存 45"))
    assert status == 200
    assert chunked_post(edge, "/slack/events", [b'{"type":', b' "url_verification"}']) in (
        401,
        403,
    )  # reached Slack's signature check: not refused for its size
    assert edge.count(InboxRow) == 1
    edge.delivered()  # the count's answer is sent: no thread of the app is at work when it ends
    assert len(edge.slack.calls_to("chat.postMessage")) == 1


class CountingInput(io.RawIOBase):
    """An endless request body that counts the bytes asked of it."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "the whole stream was asked for"
        self.given += size
        return b"x" * size


def test_a_body_of_unknown_length_is_read_no_further_than_the_limit_and_a_byte() -> None:
    reached: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    statuses: list[str] = []
    stream = CountingInput()
    limited = BodyLimit(app, {"/in": 1000}, default=10)
    environ = {"PATH_INFO": "/in", "wsgi.input": stream, "HTTP_TRANSFER_ENCODING": "chunked"}
    limited(environ, lambda status, headers: statuses.append(status))  # type: ignore[arg-type]
    assert statuses == ["413 Content Too Large"] and stream.given == 1001 and not reached

    small = {
        "PATH_INFO": "/in",
        "wsgi.input": io.BytesIO(b"x" * 1000),
        "wsgi.input_terminated": True,
    }
    limited(small, lambda status, headers: statuses.append(status))  # type: ignore[arg-type]
    assert statuses[-1] == "200 OK" and reached == [b"x" * 1000]


# --- huge messages: stored once, never parsed, answered with the limit ---------------------


def slack_dm(text: str, user: str = "U01KEEPER") -> str:
    """A direct message to the bot, as Slack sends it."""
    event = json.loads(slack_message(text, user=user, channel="D01KEEPER"))
    event["event"]["channel_type"] = "im"
    return json.dumps(event)


def stored_text_and_json(edge: Edge) -> tuple[str, str]:
    with transaction(edge.runtime.engine, read_only=True) as session:
        row = session.execute(select(InboxRow.text, InboxRow.incoming)).one()
    return row.text, row.incoming


@pytest.mark.probe("a 1,000,000-character Slack DM, /healthz asked while it is handled")
def test_a_huge_slack_message_is_stored_once_and_refused_with_the_limit(edge: Edge) -> None:
    text = "6205 库存 45 " + "1 " * 499_990
    status, _ = edge.slack_post(slack_dm(text), settle=False)
    assert status == 200
    assert edge.get("/healthz", timeout=30)[0] == 200
    edge.settle()
    [reply] = edge.slack.wait_for("chat.postMessage")
    said = reply.params["text"]
    assert "消息太长" in said and "10,000" in said and f"{len(text):,}" in said
    assert edge.count(InboxRow) == 1 and edge.count(LedgerRow) == 0
    kept, rest = stored_text_and_json(edge)
    assert kept == text and len(rest) < 1000  # the text once, not again in the JSON


@pytest.mark.probe("a signed WeCom text of 20,000 characters (WeCom's own cap is 2048 bytes)")
def test_a_huge_wecom_text_is_refused_with_the_limit(edge: Edge) -> None:
    now = int(datetime.now(UTC).timestamp())
    text = "\n".join(["6205 库存 45"] * 2_000)  # a sheet of 2,000 rows: 21,999 characters
    assert edge.wecom_post(text_message_xml("wangcg", text, "big1", now, CORP))[0] == 200
    [reply] = edge.wecom.wait_for("message/send")
    said = reply.body["text"]["content"]
    assert "消息太长" in said and "10,000" in said and "21,999" in said
    assert edge.count(LedgerRow) == 0
    kept, rest = stored_text_and_json(edge)
    assert kept == text and "6205" not in rest


def test_the_refusal_speaks_english_to_who_reads_english(tmp_path: Path) -> None:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            'name = "王仓管"', 'name = "王仓管"\nlocale = "en"'
        ),
        encoding="utf-8",
    )
    runtime = start(str(english), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    try:
        message = Incoming("console", "keeper", "keeper", "c1", datetime.now(UTC), "1 " * 6_000)
        assert handle(runtime.engine, runtime.config, message)
        with transaction(runtime.engine, read_only=True) as session:
            card = session.scalar(select(OutboxRow.card))
        assert card is not None
        assert "too long" in card and "10,000" in card and "12,000" in card
    finally:
        runtime.engine.dispose()
