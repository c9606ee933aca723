"""A card's picture (the monthly review's chart) reaches each platform: Slack shares it as a
file after the card (files_upload_v2 against tests/fake_slack.py), WeCom uploads it and sends
an image message (tests/fake_wecom.py), the console writes it to a file and prints the path."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot.adapters.console.chat import ConsoleChat
from bot.adapters.slack.sender import SlackSender, slack_client
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.sender import WeComSender
from bot.app.bootstrap import start
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.runtime.delivery import DeliveryWorker
from bot.storage.db import transaction
from bot.storage.outbox import Destination, enqueue
from messages.cards import Card
from tests.fake_slack import FakeSlack
from tests.fake_wecom import CORP_ID, CORP_SECRET, FakeWeCom
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


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    fake = FakeWeCom()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def robot_config(tmp_path: Path) -> str:
    """The example agreement posting to its WeCom group through a robot."""
    robot = tmp_path / "robot.toml"
    robot.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace('wecom_chat = "wrVMI01"', 'wecom_chat = ""')
        .replace('wecom_webhook_key = ""', 'wecom_webhook_key = "robot-key"'),
        encoding="utf-8",
    )
    return str(robot)


def deliver_to_wecom(runtime: Runtime, wecom: FakeWeCom, chat: str) -> DeliveryWorker:
    with transaction(runtime.engine) as session:
        enqueue(session, Destination("wecom", chat), CARD, shanghai(2026, 11, 25, 9))
    sender = WeComSender(WeComClient(CORP_ID, CORP_SECRET, wecom.base_url), 1000002,
                         runtime.config)  # fmt: skip
    return DeliveryWorker(runtime.engine, {"wecom": sender})


@pytest.mark.parametrize("chat", ["wang", "appchat:wrVMI01"])
def test_wecom_uploads_the_picture_and_sends_it_as_an_image_message(
    tmp_path: Path, wecom: FakeWeCom, chat: str
) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    worker = deliver_to_wecom(runtime, wecom, chat)
    assert worker.run_once() == 1
    [upload] = wecom.calls_to("media/upload")
    assert upload.query["type"] == "image" and upload.body is not None
    assert upload.body["filename"] == "retro-plant-6205-2026-11.png"
    media_id = upload.response["media_id"]
    assert wecom.media(media_id) == PICTURE
    path = "appchat/send" if chat.startswith("appchat:") else "message/send"
    [card, image] = wecom.calls_to(path)
    assert card.body is not None and "领用 85 件" in json.dumps(card.body, ensure_ascii=False)
    assert image.body is not None and image.body["msgtype"] == "image"
    assert image.body["image"] == {"media_id": media_id}
    assert image.response["errcode"] == 0
    runtime.engine.dispose()


def test_a_wecom_group_robot_gets_the_picture_as_base64_with_its_md5(
    tmp_path: Path, wecom: FakeWeCom
) -> None:
    runtime = start(robot_config(tmp_path), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    worker = deliver_to_wecom(runtime, wecom, "webhook:plant-6205")
    assert worker.run_once() == 1
    [card, image] = wecom.calls_to("webhook/send")
    assert card.body is not None and card.body["msgtype"] == "markdown"
    assert image.body is not None and image.body["image"]["md5"] == hashlib.md5(PICTURE).hexdigest()
    assert wecom.robot_images == [PICTURE] and not wecom.calls_to("media/upload")
    runtime.engine.dispose()


def test_a_failed_wecom_upload_is_tried_again_and_the_person_gets_the_card_once(
    tmp_path: Path, wecom: FakeWeCom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    worker = deliver_to_wecom(runtime, wecom, "wang")
    wecom.fail_next(1, status=200, errcode=-1, path_suffix="media/upload")
    assert worker.run_once() == 0
    time.sleep(0.3)
    assert worker.run_once() == 1
    received = [b["msgtype"] for b in wecom.received_by("wang")]
    assert received == ["text", "image"]  # the card's repeat was dropped by WeCom's check
    runtime.engine.dispose()


def test_the_console_writes_the_picture_and_prints_its_path(tmp_path: Path) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with transaction(runtime.engine) as session:
        enqueue(session, Destination("console", "plant-6205"), CARD, shanghai(2026, 11, 25, 9))
    out = io.StringIO()
    ConsoleChat(runtime, "keeper", out=out, pictures=tmp_path / "pictures").deliver()
    [shown] = [line for line in out.getvalue().splitlines() if line.strip().startswith("🖼")]
    path = Path(shown.strip().removeprefix("🖼").strip())
    assert path.parent == tmp_path / "pictures" and path.name.endswith(CARD.image_name)
    assert path.read_bytes() == PICTURE
    runtime.engine.dispose()
