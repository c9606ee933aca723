"""Slack's way in under faults: Slack's own API down at the first request, unsigned and signed
bodies that are not what Slack sends, times from nowhere and formatting typed by a user. Every
probe goes through the served app on loopback with really signed requests."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.review import review
from bot.storage.db import transaction
from bot.storage.tables import InboxRow, LedgerRow, ProposalRow
from handlers.incoming import Incoming
from tests.fake_slack import BOT_USER_ID
from tests.faults.edge import BUYER, FORM, KEEPER, Edge, press, slack_message

# just under /slack/events' body limit, so that the signature check, not the limit, answers
NEAR_LIMIT = 1_000_000


def with_bot(body: str, bot: str = BOT_USER_ID) -> str:
    """An event as Slack sends it to a bot-token app: with the bot's own authorization."""
    raw = json.loads(body)
    raw["authorizations"] = [{"team_id": "T01", "user_id": bot, "is_bot": True}]
    return json.dumps(raw)


def stored(edge: Edge) -> list[Incoming]:
    """The messages in the inbox, in the order they came."""
    with transaction(edge.runtime.engine, read_only=True) as session:
        rows = session.scalars(select(InboxRow.incoming).order_by(InboxRow.id)).all()
    return [Incoming.from_json(row) for row in rows]


def ledger_times(edge: Edge) -> list[datetime]:
    with transaction(edge.runtime.engine, read_only=True) as session:
        return list(session.scalars(select(LedgerRow.at).order_by(LedgerRow.id)).all())


def submit(view: dict[str, Any], user: str, qty: str, view_id: str = "V1") -> str:
    """A `view_submission` of the adjust form with `qty` typed into it."""
    values = {"qty": {"value": {"type": "plain_text_input", "value": qty}}}
    payload = {
        "type": "view_submission",
        "team": {"id": "T01"},
        "user": {"id": user},
        "api_app_id": "A01",
        "view": {**view, "id": view_id, "state": {"values": values}},
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def a_proposal_card(edge: Edge) -> str:
    """A count below min, the review after it, and the ts of the proposal card it posted."""
    assert edge.slack_post(slack_message("6205 库存 45"))[0] == 200
    with transaction(edge.runtime.engine) as session:
        review(session, edge.runtime.config, edge.runtime.clock(), platforms=frozenset({"slack"}))
    edge.service.delivery.wake()
    calls = edge.slack.wait_for("chat.postMessage", 2)
    [card] = [c for c in calls if "thread_ts" not in c.params]
    return str(card.response["ts"])


def the_adjust_form(edge: Edge) -> dict[str, Any]:
    card_ts = a_proposal_card(edge)
    assert edge.slack_post(press("adjust", "P1", BUYER, card_ts), FORM)[0] == 200
    [opened] = edge.slack.wait_for("views.open")
    view = opened.params["view"]
    return json.loads(view) if isinstance(view, str) else dict(view)


def proposal(edge: Edge) -> tuple[str, int]:
    with transaction(edge.runtime.engine, read_only=True) as session:
        state, qty = session.execute(select(ProposalRow.state, ProposalRow.qty)).one()
    return str(state), int(qty)


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record, debug up, from before the app is built (bolt's loggers take the
    level they find then)."""
    caplog.set_level(logging.DEBUG)
    return caplog


# --- 1. acknowledged only once stored -----------------------------------------------------------


@pytest.mark.probe(
    "auth.test answering 429 and 500 at the first requests: counts stored, not 200-and-lost"
)
def test_counts_are_stored_while_slack_fails_auth_test(edge: Edge) -> None:  # fmt: skip
    edge.slack.error_for("auth.test", "ratelimited")  # and whatever is asked first: 500
    edge.slack.fail_next(2, status=500)
    answers = [
        edge.slack_post(slack_message(f"{sku} 库存 80", ts=f"{time.time() + n / 1000:.6f}"))
        for n, sku in enumerate(("6205", "6205", "6205"))
    ]
    assert [status for status, _ in answers] == [200, 200, 200]
    assert not any("installation" in text for _, text in answers)
    assert len(stored(edge)) == 3


@pytest.mark.probe(
    "a mention in a channel while auth.test fails: 503 until the bot is known, then once"
)
def test_a_mention_waits_for_slack_to_say_who_the_bot_is(edge: Edge) -> None:  # fmt: skip
    edge.slack.error_for("auth.test", "fatal_error")
    event = slack_message(f"<@{BOT_USER_ID}> 6205 库存 45", ts=f"{time.time():.6f}")
    status, _ = edge.slack_post(event)
    assert status == 503  # Slack sends it again: nothing is acknowledged without being stored
    assert stored(edge) == []

    edge.slack.reset()  # Slack is back: the same event, retried, is stored once and addressed
    assert edge.slack_post(event)[0] == 200
    [said] = stored(edge)
    assert said.addressed
    assert "现有 45 件" in edge.slack.wait_for("chat.postMessage")[0].params["text"]


@pytest.mark.probe("a mention while auth.test fails, the event naming the bot: stored at once")
def test_the_event_itself_says_who_the_bot_is(edge: Edge) -> None:
    edge.slack.error_for("auth.test", "fatal_error")
    mention = slack_message(f"<@{BOT_USER_ID}> 6205 库存 45", ts=f"{time.time():.6f}")
    other = slack_message(f"<@{BUYER}> 6205 库存 44", ts=f"{time.time() + 1:.6f}")
    assert edge.slack_post(with_bot(mention))[0] == 200
    assert edge.slack_post(with_bot(other))[0] == 200
    assert [m.addressed for m in stored(edge)] == [True, False]
    assert edge.slack.calls_to("auth.test") == []


# --- 2. unsigned bodies -------------------------------------------------------------------------


FLOODS = {
    "form": (FORM, b"payload=" + b"x" * NEAR_LIMIT),
    "JSON": ("application/json", b'{"a": "' + b"x" * NEAR_LIMIT + b'"}'),
    "broken JSON": ("application/json", b'{"a": ' + b"[" * NEAR_LIMIT),
}


@pytest.mark.probe("unsigned 1 MB form and JSON bodies: 401, short answers, short log lines")
@pytest.mark.parametrize("kind", list(FLOODS))
def test_an_unsigned_flood_is_refused_without_logging_it(
    everything_logged: pytest.LogCaptureFixture, edge: Edge, kind: str
) -> None:
    caplog = everything_logged
    content_type, body = FLOODS[kind]
    for _ in range(3):
        status, text = edge.slack_post(body, content_type, signed=False, settle=False)
        assert status == 401 and len(text) < 100
    forged = edge.slack_post(body, content_type, secret="not-the-secret", settle=False)
    assert forged[0] == 401
    assert stored(edge) == []
    assert max((len(r.getMessage()) for r in caplog.records), default=0) < 500
    assert sum(len(r.getMessage()) for r in caplog.records) < 10_000


@pytest.mark.probe("Slack's unsigned certificate check and a signed URL verification: answered")
def test_slacks_own_checks_are_still_answered(edge: Edge) -> None:
    assert edge.slack_post("ssl_check=1&token=legacy", FORM, signed=False) == (200, "")
    challenge = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "c-42"})
    status, text = edge.slack_post(challenge)
    assert status == 200 and "c-42" in text
    refused = edge.slack_post(challenge, signed=False)
    assert refused[0] == 401 and "c-42" not in refused[1]


# --- 3. a 4xx, not a 500 ------------------------------------------------------------------------


@pytest.mark.probe("a signed request whose timestamp is not a number: 401, not 500")
def test_a_timestamp_that_is_no_number_is_refused(edge: Edge) -> None:
    for stamp in ("soon", "1e9", "-1", " ", "9" * 40):
        status, _ = edge.slack_post(slack_message("6205 库存 45"), timestamp=stamp)
        assert status == 401
    assert stored(edge) == []


def deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


BROKEN = {
    "invalid JSON": ("application/json", '{"type": "event_callback", '),
    "a JSON array": ("application/json", "[1, 2, 3]"),
    "100k-deep JSON": ("application/json", deep(100_000)),
    "20k-deep payload": (FORM, urllib.parse.urlencode({"payload": deep(20_000)})),
    "a payload array": (FORM, urllib.parse.urlencode({"payload": "[]"})),
    "not UTF-8": ("application/json", b'{"type": "\xff\xfe"}'),
    "an event that is text": ("application/json", '{"type": "event_callback", "event": "x"}'),
    "a button press without buttons": (FORM, press("confirm", "P1", BUYER, "1.1", actions=[])),
    "a button that is text": (FORM, press("confirm", "P1", BUYER, "1.1", actions=["vmi:confirm"])),
    "a person who is a number": (FORM, press("confirm", "P1", BUYER, "1.1", user=7)),
}  # fmt: skip


@pytest.mark.probe(
    "signed bodies Slack never sends (bad JSON, arrays, 100k nesting, no button): 400"
)
@pytest.mark.parametrize("name", list(BROKEN))
def test_a_signed_body_slack_never_sends_is_a_bad_request(
    everything_logged: pytest.LogCaptureFixture, edge: Edge, name: str
) -> None:
    content_type, body = BROKEN[name]
    status, text = edge.slack_post(body, content_type)
    assert status == 400 and len(text) < 100
    assert stored(edge) == []
    assert max(len(r.getMessage()) for r in everything_logged.records) < 500


@pytest.mark.probe(
    "the adjust form submitted with its hidden fields cut or changed: 400, nothing changes"
)
def test_a_forged_adjust_form_changes_nothing(edge: Edge) -> None:  # fmt: skip
    view = the_adjust_form(edge)
    sealed = json.loads(view["private_metadata"])
    other_card = {**sealed, "form": {**sealed["form"], "ts": "1.000001"}}
    other_channel = {**sealed, "form": {**sealed["form"], "channel": "CELSEWHERE"}}
    for metadata in ("{", "[]", '"P1"', json.dumps(sealed["form"]), json.dumps(other_card),
                     json.dumps(other_channel)):  # fmt: skip
        status, _ = edge.slack_post(
            submit({**view, "private_metadata": metadata}, BUYER, "60"), FORM
        )
        assert status == 400
    # the form as opened, but submitted by someone else
    assert edge.slack_post(submit(view, KEEPER, "60", view_id="V2"), FORM)[0] == 400
    assert proposal(edge) == ("proposed", 55)

    assert edge.slack_post(submit(view, BUYER, "60", view_id="V3"), FORM)[0] == 200
    assert proposal(edge) == ("confirmed", 60)


# --- 4. times from nowhere ----------------------------------------------------------------------


@pytest.fixture
def now_window(edge: Edge) -> Iterator[tuple[datetime, datetime]]:
    before = edge.runtime.clock()
    yield before - timedelta(seconds=1), before + timedelta(hours=1)


@pytest.mark.probe(
    "counts dated 2286, 1970, inf and 1e20 by their Slack ts: stored at our time, doubted"
)
@pytest.mark.parametrize("ts", ["9999999999.000100", "1.000001", "inf", "1e20", "nan"])
def test_a_count_from_another_century_is_dated_now(
    edge: Edge, now_window: tuple[datetime, datetime], ts: str
) -> None:
    assert edge.slack_post(slack_message("6205 库存 80", ts=f"{time.time():.6f}"))[0] == 200
    status, _ = edge.slack_post(slack_message("6205 库存 45", ts=ts, event_id="EvFar"))
    assert status == 200
    first, far = stored(edge)
    assert not first.time_doubted and far.time_doubted
    earliest, latest = now_window
    assert all(earliest <= at <= latest for at in (far.at, *ledger_times(edge)))
    assert len(ledger_times(edge)) == 3  # the two counts and the withdrawal between them


@pytest.mark.probe("a button pressed with an action_ts from 2286: handled at our time, doubted")
def test_a_button_press_from_another_century_is_dated_now(
    edge: Edge, now_window: tuple[datetime, datetime]
) -> None:
    card_ts = a_proposal_card(edge)
    body = json.loads(
        urllib.parse.parse_qs(press("confirm", "P1@55", BUYER, card_ts))["payload"][0]
    )
    body["actions"][0]["action_ts"] = "9999999999.1"
    assert edge.slack_post(urllib.parse.urlencode({"payload": json.dumps(body)}), FORM)[0] == 200
    pressed = stored(edge)[-1]
    assert pressed.button is not None and pressed.time_doubted
    earliest, latest = now_window
    assert earliest <= pressed.at <= latest
    assert proposal(edge) == ("confirmed", 55)


# --- 5. what a user typed is shown as typed -----------------------------------------------------


def text_objects(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every piece of text in Block Kit blocks with how Slack reads it: mrkdwn is formatted,
    plain_text and rich text's own text elements are shown as they are."""
    for node in blocks:
        stack: list[Any] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if item.get("type") in ("mrkdwn", "plain_text", "text") and "text" in item:
                    yield str(item["type"]), str(item["text"])
                stack.extend(v for k, v in item.items() if isinstance(v, dict | list))
            elif isinstance(item, list):
                stack.extend(item)


@pytest.mark.probe("a reason typed as *bold* _it_ ~s~ `code`: echoed in the card literally")
def test_formatting_typed_by_a_user_is_shown_as_typed(edge: Edge) -> None:
    a_proposal_card(edge)
    reason = "*全部* _作废_ ~真的~ `code` > quoted"
    said = slack_message(f"拒绝 P1 {reason}", user=BUYER, ts=f"{time.time():.6f}", event_id="EvR")
    assert edge.slack_post(said)[0] == 200
    [echo] = [c for c in edge.slack.wait_for("chat.postMessage", 3) if "全部" in c.params["text"]]
    echoed = [(kind, text) for kind, text in text_objects(echo.params["blocks"])
              if "全部" in text]  # fmt: skip
    assert echoed, "the reason is shown on the card"
    assert all(kind != "mrkdwn" for kind, _ in echoed)
    assert any(reason in text for _, text in echoed)
