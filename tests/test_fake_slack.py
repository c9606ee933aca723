"""The fake Slack Web API answers a real slack_sdk WebClient the way Slack does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.adapters.slack.blocks import card_to_message
from messages.cards import Button, Card
from tests.fake_slack import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def client_for(fake: FakeSlack, **kwargs: object) -> WebClient:
    """A client with no retry handlers: every answer reaches the test as it was sent."""
    options: dict = {"token": "xoxb-test", "base_url": fake.base_url, "retry_handlers": []}
    return WebClient(**{**options, "timeout": 5, **kwargs})


def test_base_url_is_local_and_auth_test_answers_the_bot(fake: FakeSlack) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/api/")

    answer = client_for(fake).auth_test()

    assert answer["ok"] is True
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == ("UBOT", "BBOT", "T1")
    [call] = fake.calls
    assert (call.method, call.token, call.status) == ("auth.test", "xoxb-test", 200)


def test_post_message_with_blocks_is_recorded_with_blocks_as_a_list(fake: FakeSlack) -> None:
    card = Card(title="补货提案 P1", lines=("1200 件",), buttons=(Button("确认", "confirm", "P1"),))
    message = card_to_message(card)
    client = client_for(fake)

    first = client.chat_postMessage(channel="C1", **message)
    second = client.chat_postMessage(channel="C1", text="again")

    assert first["ok"] is True and first["channel"] == "C1"
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == message["blocks"]
    assert first["message"]["bot_id"] == "BBOT"
    call = fake.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == message["blocks"]
    assert isinstance(call.params["blocks"], list)
    assert call.params["text"] == message["text"] and call.params["channel"] == "C1"
    assert call.token == "xoxb-test"
    assert call.response["ts"] == first["ts"]


def test_blocks_sent_as_a_json_string_in_a_form_body_are_decoded(fake: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]

    client_for(fake).api_call(
        "chat.postMessage", params={"channel": "C1", "blocks": json.dumps(blocks)}
    )

    assert fake.calls_to("chat.postMessage")[0].params == {"channel": "C1", "blocks": blocks}


def test_chat_update(fake: FakeSlack) -> None:
    client = client_for(fake)
    posted = client.chat_postMessage(channel="C1", text="before")

    done = card_to_message(Card(title="补货提案 P1"), done_by="已确认 · 王采购")
    answer = client.chat_update(channel="C1", ts=posted["ts"], **done)

    assert answer["ok"] is True
    assert (answer["channel"], answer["ts"], answer["text"]) == ("C1", posted["ts"], done["text"])
    [call] = fake.calls_to("chat.update")
    assert call.params["ts"] == posted["ts"] and call.params["blocks"] == done["blocks"]


def test_429_with_retry_after_reaches_the_client(fake: FakeSlack) -> None:
    fake.fail_next(1, status=429, retry_after=7)
    client = client_for(fake)

    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="hi")

    response = caught.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C1", text="hi")["ok"] is True  # only the next one
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]


def test_a_client_that_honours_retry_after_gets_through(fake: FakeSlack) -> None:
    fake.fail_next(1, status=429, retry_after=0)
    client = client_for(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    assert client.chat_postMessage(channel="C1", text="hi")["ok"] is True
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at >= first.at


def test_fail_next_server_errors(fake: FakeSlack) -> None:
    fake.fail_next(2, status=503)
    client = client_for(fake)

    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            client.auth_test()
        assert caught.value.response.status_code == 503
        assert "Retry-After" not in caught.value.response.headers
    assert client.auth_test()["ok"] is True


def test_error_for_answers_ok_false(fake: FakeSlack) -> None:
    fake.error_for("chat.postMessage", "channel_not_found")
    fake.error_for("reactions.add", "not_in_channel", count=1)
    client = client_for(fake)

    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="C404", text="hi")
        assert caught.value.response.status_code == 200
        assert caught.value.response.data == {"ok": False, "error": "channel_not_found"}

    with pytest.raises(SlackApiError, match="not_in_channel"):
        client.reactions_add(channel="C1", timestamp="1700000000.000100", name="eyes")
    again = client.reactions_add(channel="C1", timestamp="1700000000.000100", name="eyes")
    assert again.data == {"ok": True}
    assert client.auth_test()["ok"] is True  # other methods are untouched


def test_without_a_token_slack_answers_not_authed(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as caught:
        WebClient(base_url=fake.base_url, retry_handlers=[]).chat_postMessage(
            channel="C1", text="hi"
        )

    assert caught.value.response["error"] == "not_authed"
    assert fake.calls[0].token is None


def test_unknown_method(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as caught:
        client_for(fake).api_call("vmi.nothing")

    assert caught.value.response["error"] == "unknown_method"


def test_other_methods_answer_like_slack(fake: FakeSlack) -> None:
    client = client_for(fake)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "调整"}, "blocks": []}

    ephemeral = client.chat_postEphemeral(channel="C1", user="U1", text="只有你看得到")
    opened = client.views_open(trigger_id="123.456.abc", view=view)
    updated = client.views_update(view_id=opened["view"]["id"], view=view)

    assert ephemeral["ok"] is True and ephemeral["message_ts"]
    assert opened["view"]["id"] == "V1" and opened["view"]["title"] == view["title"]
    assert updated["view"]["id"] == "V1"
    assert fake.calls_to("views.open")[0].params["view"] == view
    with pytest.raises(SlackApiError, match="no_text"):
        client.api_call("chat.postMessage", json={"channel": "C1"})


def test_wait_for_blocks_until_the_calls_arrive(fake: FakeSlack) -> None:
    client = client_for(fake)

    def post_later() -> None:
        for n in range(2):
            time.sleep(0.05)
            client.chat_postMessage(channel="C1", text=f"#{n}")

    poster = threading.Thread(target=post_later)
    poster.start()
    calls = fake.wait_for("chat.postMessage", n=2, timeout=5)
    poster.join()

    assert [c.params["text"] for c in calls] == ["#0", "#1"]
    with pytest.raises(TimeoutError, match=r"0 of 1 chat\.update"):
        fake.wait_for("chat.update", timeout=0.1)


def test_server_is_quiet_and_stops(capfd: pytest.CaptureFixture[str]) -> None:
    fake = FakeSlack().start()
    url = fake.base_url
    client_for(fake).auth_test()
    with pytest.raises(SlackApiError):
        client_for(fake).api_call("vmi.nothing")
    thread = fake._thread
    fake.stop()
    fake.stop()  # twice is harmless

    assert thread is not None and not thread.is_alive()
    assert capfd.readouterr().err == ""
    with pytest.raises(URLError):
        urlopen(url + "auth.test", timeout=1)
    with pytest.raises(RuntimeError):
        _ = fake.base_url
