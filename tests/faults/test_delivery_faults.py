"""Probes of delivery across crashes: `vmi-bot serve` killed (-9) while a reply is on its way
to Slack or WeCom, then started again on the same database. The reply goes at the next start,
not after a lease runs out, the chat's later replies follow it in order, and the platform shows
it once: Slack's history is read for the post's metadata, WeCom drops the repeated body."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.adapters.slack.sender import METADATA_EVENT, SlackSender, slack_client
from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.runtime.delivery import DeliveryWorker, delivery_key
from bot.storage.db import transaction
from bot.storage.outbox import Destination, enqueue
from bot.storage.tables import OutboxRow
from messages.cards import Card
from tests.fake_slack import FakeSlack
from tests.fake_wecom import FakeWeCom
from tests.faults.edge import AES_KEY, CHANNEL, CORP, SLACK_SECRET, TOKEN, slack_message
from tests.support import EXAMPLE, serve
from tests.wecom_crypto import encrypt_callback, text_message_xml

WANG = "wangcg"  # the example agreement's warehouse keeper on WeCom
Served = tuple[subprocess.Popen[str], str]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    fake = FakeWeCom().start()
    try:
        yield fake
    finally:
        fake.stop()


def environment(**settings: str) -> dict[str, str]:
    """This test's environment for `vmi-bot serve`: only the platforms given are on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "VMI_"))}
    return {**env, **settings}


def serving(db_url: str, env: dict[str, str]) -> Served:
    """`vmi-bot serve` started, and its address."""
    process, said = serve(db_url, env)
    return process, said[-1].strip().rsplit(" ", 1)[-1]


def killed(served: Served) -> None:
    """kill -9: no handler runs, no claim is given back."""
    served[0].kill()
    served[0].wait(timeout=30)


def post(address: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to the served app; its status."""
    request = urllib.request.Request(address, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


def say_on_slack(address: str, text: str, ts: str) -> None:
    """The keeper's message in the agreement's channel, signed as Slack signs."""
    raw = slack_message(text, ts=ts).encode()
    now = str(int(time.time()))
    mac = hmac.new(SLACK_SECRET.encode(), f"v0:{now}:".encode() + raw, hashlib.sha256)
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now,
               "X-Slack-Signature": f"v0={mac.hexdigest()}"}  # fmt: skip
    assert post(f"{address}/slack/events", raw, headers) == 200


def say_on_wecom(address: str, text: str, n: int) -> None:
    """The keeper's n-th message to the app, encrypted and signed as WeCom does."""
    xml = text_message_xml(WANG, text, str(n), 1763690400 + n, CORP)
    body, signature = encrypt_callback(xml, token=TOKEN, aes_key=AES_KEY, corp_id=CORP,
                                       timestamp="1763690400", nonce="n1")  # fmt: skip
    query = urllib.parse.urlencode(
        {"msg_signature": signature, "timestamp": "1763690400", "nonce": "n1"}
    )
    assert post(f"{address}/wecom/callback?{query}", body.encode(), {}) == 200


@pytest.mark.probe("kill -9 mid chat.postMessage, restart: sent at once, once, in order")
def test_a_slack_reply_cut_off_by_a_crash_goes_at_the_restart_and_shows_once(
    tmp_path: Path, slack: FakeSlack
) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    env = environment(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SLACK_SECRET,
                      SLACK_API_BASE_URL=slack.base_url)  # fmt: skip
    slack.hold("chat.postMessage")  # Slack posts it; the process dies before hearing so
    first = serving(url, env)
    try:
        say_on_slack(first[1], "6205 库存 80", "1763690400.000100")
        [cut_off] = slack.wait_for("chat.postMessage", timeout=30)
    finally:
        killed(first)
    again = serving(url, env)
    try:
        say_on_slack(again[1], "6205 库存 70", "1763690500.000100")  # said after the restart
        # the new message's reply comes within a fraction of the lease: the old claim is dead
        slack.wait_for("chat.postMessage", 2, timeout=30)
    finally:
        again[0].terminate()
        again[0].wait(timeout=30)
    first_thread = slack.messages_in(CHANNEL, "1763690400.000100")
    assert [m["metadata"] for m in first_thread] == [cut_off.params["metadata"]]  # once
    assert cut_off.params["metadata"]["event_payload"]  # the outbox row's own mark
    assert len(slack.messages_in(CHANNEL, "1763690500.000100")) == 1
    posts = slack.calls_to("chat.postMessage")
    assert [p.params["thread_ts"] for p in posts] == ["1763690400.000100", "1763690500.000100"]
    [looked] = slack.calls_to("conversations.replies")  # only the cut-off send looked first
    assert looked.params["ts"] == "1763690400.000100"


@pytest.mark.probe("kill -9 mid WeCom message/send, restart: sent at once, received once")
def test_a_wecom_reply_cut_off_by_a_crash_goes_at_the_restart_and_arrives_once(
    tmp_path: Path, wecom: FakeWeCom
) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    env = environment(
        WECOM_CORP_ID=CORP,
        WECOM_CORP_SECRET=wecom.corp_secret,
        WECOM_AGENT_ID="1000002",
        WECOM_TOKEN=TOKEN,
        WECOM_ENCODING_AES_KEY=AES_KEY,
        WECOM_API_BASE_URL=wecom.base_url,
    )
    wecom.hold("message/send")
    first = serving(url, env)
    try:
        say_on_wecom(first[1], "6205 库存 80", 1)
        [cut_off] = wecom.wait_for("message/send", timeout=30)
    finally:
        killed(first)
    again = serving(url, env)
    try:
        say_on_wecom(again[1], "6205 库存 70", 2)
        sent = wecom.wait_for("message/send", 3, timeout=30)  # the cut-off one again, the new
    finally:
        again[0].terminate()
        again[0].wait(timeout=30)
    assert sent[1].body == cut_off.body  # the very same request, so WeCom can tell
    assert cut_off.body is not None and cut_off.body["enable_duplicate_check"] == 1
    assert [b["text"]["content"] for b in wecom.received_by(WANG)] == [
        cut_off.body["text"]["content"],
        sent[2].body["text"]["content"],  # type: ignore[index]
    ]


def a_process_that_has_ended() -> str:
    """A claimer as delivery names one ("host pid start"): a process of this host, ended."""
    with subprocess.Popen(["sleep", "60"]) as gone:
        started = Path(f"/proc/{gone.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        gone.kill()
    return f"{socket.gethostname()} {gone.pid} {started}"


@pytest.mark.probe("a row claimed by a live process elsewhere (shared PostgreSQL) is left to it")
def test_a_claim_of_a_live_process_elsewhere_waits_and_a_dead_local_one_does_not(
    database_url: str, slack: FakeSlack
) -> None:
    runtime = start(str(EXAMPLE), database_url)
    with transaction(runtime.engine) as session:
        for text in ("theirs", "ours"):
            enqueue(session, Destination("slack", f"C-{text}"), Card(title=text),
                    datetime.now(UTC))  # fmt: skip
    claims = {"theirs": "another-host 4242 12345", "ours": a_process_that_has_ended()}
    now = datetime.now(UTC)
    with transaction(runtime.engine) as session:
        for text, claimer in claims.items():
            taken = update(OutboxRow).where(col(OutboxRow.chat) == f"C-{text}")
            session.execute(taken.values(state="sending", claimed_at=now, claimed_by=claimer))
    worker = DeliveryWorker(
        runtime.engine, {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))}
    )
    while worker.run_once():
        pass
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == ["C-ours"]
    with transaction(runtime.engine, read_only=True) as session:
        rows = session.execute(select(OutboxRow.chat, OutboxRow.state))
        states = {chat: state for chat, state in rows}
    assert states == {"C-theirs": "sending", "C-ours": "sent"}
    runtime.engine.dispose()


def cut_off_by_a_dead_process(database_url: str, chat: str) -> Runtime:
    """One reply for `chat` left `sending` by a process of this host that has ended."""
    runtime = start(str(EXAMPLE), database_url)
    claimer = a_process_that_has_ended()
    with transaction(runtime.engine) as session:
        enqueue(session, Destination("slack", chat), Card("on hand 80"), datetime.now(UTC))
        left = update(OutboxRow).values(state="sending", claimed_at=datetime.now(UTC))
        session.execute(left.values(claimed_by=claimer))
    return runtime


def deliver_all(runtime: Runtime, slack: FakeSlack) -> None:
    """Run delivery until nothing more goes."""
    worker = DeliveryWorker(
        runtime.engine, {"slack": SlackSender(slack_client("xoxb-test", slack.base_url))}
    )
    while worker.run_once():
        pass


@pytest.mark.probe(
    "a channel post cut off after Slack took it: found in the history, not re-posted"
)
def test_a_cut_off_channel_post_that_slack_has_is_not_posted_again(
    tmp_path: Path, slack: FakeSlack
) -> None:
    runtime = cut_off_by_a_dead_process(f"sqlite:///{tmp_path / 'vmi.sqlite'}", CHANNEL)
    with transaction(runtime.engine, read_only=True) as session:
        row = session.scalars(select(OutboxRow)).one()
    client = slack_client("xoxb-test", slack.base_url)
    client.chat_postMessage(channel=CHANNEL, text="on hand 80", metadata={
        "event_type": METADATA_EVENT, "event_payload": {"outbox": delivery_key(row)}})  # fmt: skip
    for n in range(250):  # people talked meanwhile: more than a page of history after it
        client.chat_postMessage(channel=CHANNEL, text=f"chatter {n}")
    deliver_all(runtime, slack)
    assert len(slack.calls_to("chat.postMessage")) == 251  # ours and the chatter: no repeat
    with transaction(runtime.engine, read_only=True) as session:
        assert session.scalars(select(OutboxRow.state)).one() == "sent"
    runtime.engine.dispose()


@pytest.mark.probe("a cut-off post where Slack will not show history (no scope): posted again")
def test_a_cut_off_post_is_posted_again_when_slack_will_not_show_history(
    tmp_path: Path, slack: FakeSlack
) -> None:
    runtime = cut_off_by_a_dead_process(f"sqlite:///{tmp_path / 'vmi.sqlite'}", CHANNEL)
    slack.error_for("conversations.history", "missing_scope")
    deliver_all(runtime, slack)
    assert [m["text"] for m in slack.messages_in(CHANNEL)] == ["on hand 80"]  # at least once
    runtime.engine.dispose()
