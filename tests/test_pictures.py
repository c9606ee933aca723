"""A card's picture (the monthly review's chart) reaches each platform: Slack shares it as a
file after the card (files_upload_v2 against tests/fake_slack.py), WeCom uploads it and sends
an image message (tests/fake_wecom.py), the console writes it to a file and prints the path."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot.adapters.slack.sender import SlackSender, slack_client
from bot.app.bootstrap import start
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.runtime.delivery import DeliveryWorker
from bot.storage.db import transaction
from bot.storage.outbox import Destination, enqueue
from messages.cards import Card
from tests.fake_slack import FakeSlack
from tests.support import EXAMPLE, shanghai

CHANNEL = "C01VMI"


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(out, format="PNG")
    return out.getvalue()


PICTURE = png()
CARD = Card("复盘 · plant-6205 · 2026-11", ("领用 85 件",), image=Card.png(PICTURE),
            image_name="retro-plant-6205-2026-11.png")  # fmt: skip


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def queued(tmp_path: Path) -> Iterator[Runtime]:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with transaction(runtime.engine) as session:
        enqueue(session, Destination("slack", CHANNEL), CARD, shanghai(2026, 11, 25, 9))
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


def test_a_card_keeps_its_picture_through_the_outbox() -> None:
    again = Card.from_json(CARD.to_json())
    assert again.image_bytes() == PICTURE and again.image_name == CARD.image_name
    assert "image" not in Card("plain").to_json()  # a card without one is stored as before


def test_slack_gets_the_card_then_its_picture_as_a_file_in_the_channel(
    queued: Runtime, slack: FakeSlack
) -> None:
    worker = DeliveryWorker(
        queued.engine, {"slack": SlackSender(slack_client("xoxb", slack.base_url))}
    )
    assert worker.run_once() == 1
    [asked] = slack.calls_to("files.getUploadURLExternal")
    assert asked.params["filename"] == "retro-plant-6205-2026-11.png"
    assert int(asked.params["length"]) == len(PICTURE)
    file_id = asked.response["file_id"]
    assert slack.uploaded(file_id) == PICTURE
    [post, shared] = slack.messages_in(CHANNEL)
    assert "领用 85 件" in post["text"]
    assert [f["id"] for f in shared["files"]] == [file_id]
    assert shared["files"][0]["title"] == CARD.title


def test_a_failed_share_is_retried_without_posting_the_card_twice(
    queued: Runtime, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    slack.error_for("files.completeUploadExternal", "internal_error", count=1)
    worker = DeliveryWorker(
        queued.engine, {"slack": SlackSender(slack_client("xoxb", slack.base_url))}
    )
    assert worker.run_once() == 0  # the card is out, its picture not: tried again
    time.sleep(0.3)
    assert worker.run_once() == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.calls_to("conversations.history")  # it looked for the card first
    shared = [m for m in slack.messages_in(CHANNEL) if m.get("files")]
    assert len(shared) == 1 and slack.uploaded(shared[0]["files"][0]["id"]) == PICTURE
