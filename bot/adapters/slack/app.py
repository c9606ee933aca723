"""Slack's adapter: bolt listeners that turn Slack's events, slash commands, button clicks and
form submissions into `Incoming` for the one conversation. Nothing here decides anything, and
nothing here sends a message: replies go through the outbox like every other platform's."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.files import FileNotFetched, fetch, sheet_of
from bot.adapters.slack.form import (
    ADJUST_FORM,
    QTY_BLOCK,
    QTY_INPUT,
    ForgedOrBroken,
    adjust_form,
    unseal,
    whole,
)
from bot.adapters.slack.identity import BotIdentity
from bot.runtime.context import Runtime
from bot.settings import SLACK
from bot.storage.db import StoreUnavailable
from handlers.conversation import accept
from handlers.incoming import ButtonPress, Incoming, said_at
from messages.render import render_card
from vmi_rules.roles import may

log = logging.getLogger(__name__)

# Slack's markup for a person, a channel or a broadcast in a message's text: <@U1>, <#C1|name>,
# <!channel>. Nobody types them as words, so they are dropped.
MENTION = re.compile(r"<[@!#][^<>]*>")
RETRY_AFTER_SECONDS = 60  # Slack retries an event after a minute, then five
LOG_LINE_LIMIT = 300  # bolt's own log lines, which may quote a whole request body


class NotYetAnswerable(Exception):
    """The message cannot be stored as it should be yet (who the bot is is still unknown):
    Slack hears 503 and sends it again later."""


class _ShortLines(logging.Filter):
    """bolt logs whole request bodies in some warnings: one line of at most 300 characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        first = text.split("\n", 1)[0]
        if len(first) > LOG_LINE_LIMIT or first != text:
            record.msg, record.args = first[:LOG_LINE_LIMIT] + " …", None
        return True


def _short(err: BaseException) -> str:
    return str(err).split("\n", 1)[0][:LOG_LINE_LIMIT]


def typed_text(text: str) -> str:
    """A Slack message's text as the person typed it: mentions become a space, and Slack's
    escapes (&lt; &gt; &amp;) the characters they stand for. Links (<http://…|label>) stay."""
    text = MENTION.sub(" ", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class SlackApp:
    """The bolt app with our listeners, and the listener of what people type on its own.

    A message is most of what Slack sends (the morning's counts): `POST /slack/events` and
    Socket Mode hand it to `message` directly, having verified and read it already, instead of
    through bolt's dispatch, which would verify and read it again. Everything else goes through
    bolt, whose message listeners stay for a message that reaches it all the same."""

    bolt: App
    message: Callable[[dict[str, Any]], None]  # an event_callback of a message or app_mention

    def answer_message(self, payload: dict[str, Any]) -> BoltResponse:
        """Store a message event through `message`; Slack's answer, as bolt's dispatch and
        its error handler would give it (200 only once the message is stored)."""
        try:
            self.message(payload)
        except Exception as err:
            return refusal(err)
        return BoltResponse(status=200, body="")

    def message_of(self, payload: dict[str, Any]) -> bool:
        """Whether `payload` is a message event, which `message` takes."""
        event = payload.get("event")
        return (
            payload.get("type") == "event_callback"
            and isinstance(event, dict)
            and event.get("type") in ("message", "app_mention")
        )


def build_slack_app(
    runtime: Runtime,
    client: WebClient,
    signing_secret: str,
    on_accepted: Callable[[], None] = lambda: None,
) -> SlackApp:
    """The bolt app for `POST /slack/events` (and Socket Mode): its listeners only translate.

    Slack hears 2xx only once the message is stored; when it cannot be (the database is
    down, who the bot is cannot be told yet) the answer is 5xx, and Slack sends the event
    again. A signed request that does not hold together is answered 400."""
    identity = BotIdentity(client)
    bot_log = logging.getLogger("vmi.slack_bolt")
    if not any(isinstance(f, _ShortLines) for f in bot_log.filters):
        bot_log.addFilter(_ShortLines())  # bolt copies its base logger's filters to its own
    # A form's hidden fields are sealed with a key only this bot has: the signing secret's
    # (or, for Socket Mode alone, the token's); a random one when neither is set.
    form_key = hmac.new(
        (signing_secret or client.token or os.urandom(32).hex()).encode(),
        b"vmi-bot adjust form",
        hashlib.sha256,
    ).digest()

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # bolt's own authorization asks auth.test at the first request and, when Slack fails
        # it, answers 200 with an apology: the message would be acknowledged and lost.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=client.token,
            bot_user_id=identity.user_id,
        )

    app = App(
        # the token comes through `authorize`: a client with a token makes bolt ask auth.test
        client=WebClient(
            base_url=client.base_url, timeout=client.timeout, retry_handlers=[], logger=bot_log
        ),
        signing_secret=signing_secret,
        authorize=authorize,
        logger=bot_log,
        process_before_response=True,  # the message is in the inbox before Slack hears 200
        raise_error_for_unhandled_request=True,  # answered by `on_error`, without the body
    )

    agreement_channels = {a.slack_channel for a in runtime.config.agreements if a.slack_channel}

    def take(incoming: Incoming) -> None:
        # Slack hears 200 once the message is stored; the inbox worker handles it right after
        if accept(runtime.engine, incoming) is not None:
            on_accepted()

    def said(event: dict[str, Any], body: dict[str, Any], mentioned: bool) -> None:
        if event.get("subtype") not in (None, "file_share") or event.get("bot_id"):
            return  # edits, deletions, joins and every bot's own messages
        if not event.get("user") or event.get("user") == identity.user_id:
            return  # no one's, or the bot's own (bolt's self-event filter, for the direct path)
        direct = event.get("channel_type") == "im"
        if not direct and event.get("channel") not in agreement_channels:
            return  # a channel of no agreement: the bot may be in it, but it is not its business
        text = _text(event.get("text"))
        addressed = mentioned or direct
        if not addressed and "<@" in text:
            # a mention comes twice, as this message and as an app_mention, under one id: the
            # first one stored decides, so it must know whether the mention is of the bot
            bot = identity.learn(body)
            if bot is None:
                raise NotYetAnswerable("who the bot is on Slack is not known yet")
            addressed = f"<@{bot}>" in text
        channel, ts = _text(event.get("channel")), _text(event.get("ts"))
        at, doubted = said_at(ts or None, runtime.clock())
        thread_ts = _text(event.get("thread_ts"))
        file_name, file_data = "", ""
        sheet = sheet_of(event)
        if sheet is not None:  # a keeper's sheet: fetched now, so the inbox holds all of it
            try:
                file_name, file_data = fetch(client, sheet)
            except (FileNotFetched, SlackApiError) as err:
                raise NotYetAnswerable(f"the file could not be fetched: {err}") from err
        take(
            Incoming(
                platform=SLACK,
                chat=channel,
                sender=_text(event["user"]),
                # the message and its app_mention are one message: one id for both
                message_id=f"msg:{channel}:{ts}",
                at=at,
                time_doubted=doubted,
                text=typed_text(text),
                direct=direct,
                addressed=addressed,
                origin_ref=f"{channel}:{ts}",
                # answers go to the thread's first message; the ⚠ goes on this one
                thread_ref=f"{channel}:{thread_ts}" if thread_ts else "",
                file_name=file_name,
                file_data=file_data,
            )
        )

    def message(body: dict[str, Any]) -> None:
        event = body["event"]
        said(event, body, mentioned=event.get("type") == "app_mention")

    @app.event("message")
    def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        said(event, body, mentioned=False)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
        said(event, body, mentioned=True)

    @app.command("/vmi")
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        ack()  # with process_before_response, Slack hears it only after `take` has stored
        take(
            Incoming(
                platform=SLACK,
                chat=_text(command.get("channel_id")),
                sender=_text(command.get("user_id")),
                message_id=f"cmd:{_text(command.get('trigger_id'))}",
                at=runtime.clock(),
                text=typed_text(_text(command.get("text"))) or "help",
                direct=True,
                via="command",
                # answered through the command's response_url: it works in any channel
                origin_ref=_text(command.get("response_url")),
            )
        )

    @app.action(re.compile(r"^vmi:"))
    def on_button(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        pressed = body["actions"][0]  # there is one: checked before bolt saw the request
        action = _text(pressed.get("action_id")).split(":", 1)[1]
        proposal = _text(pressed.get("value"))
        user = _text(_object(body.get("user")).get("id"))
        channel = _text(_object(body.get("channel")).get("id"))
        message_ts = _text(_object(body.get("container")).get("message_ts")) or _text(
            _object(body.get("message")).get("ts")
        )
        member = runtime.config.member_by_platform(SLACK, user)
        if action == "adjust" and member is not None and may(member.role, "adjust"):
            # Slack's trigger_id lives 3 seconds: the form opens now, not through the outbox.
            locale = member.locale or runtime.config.bot.locale
            ack()
            client.views_open(
                trigger_id=_text(body.get("trigger_id")),
                view=adjust_form(proposal, channel, message_ts, locale, user, form_key),
            )
            return
        ack()
        action_ts = _text(pressed.get("action_ts"))
        at, doubted = said_at(action_ts or None, runtime.clock())
        take(
            Incoming(
                platform=SLACK,
                chat=channel,
                sender=user,
                message_id=f"act:{action_ts}:{user}",
                at=at,
                time_doubted=doubted,
                button=ButtonPress(action, proposal),
                direct=False,
                via="button",
                origin_ref=f"{channel}:{message_ts}" if message_ts else "",
            )
        )

    @app.view(ADJUST_FORM)
    def on_adjust(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = _text(_object(body.get("user")).get("id"))
        form = unseal(_text(view.get("private_metadata")), user, form_key)
        state = _object(_object(view.get("state")).get("values"))
        raw = _text(_object(_object(state.get(QTY_BLOCK)).get(QTY_INPUT)).get("value"))
        member = runtime.config.member_by_platform(SLACK, user)
        locale = (member.locale if member else None) or runtime.config.bot.locale
        qty = whole(raw)
        if qty is None:
            words = render_card("adjust_form", locale, proposal_id=form["proposal"])
            ack(response_action="errors", errors={QTY_BLOCK: words.lines[2]})
            return
        ack()
        channel, ts = form["channel"], form["ts"]
        take(
            Incoming(
                platform=SLACK,
                chat=channel,
                sender=user,
                message_id=f"view:{_text(view.get('id'))}",
                at=runtime.clock(),
                text=f"adjust {form['proposal']} {qty}",
                direct=False,
                via="form",
                origin_ref=f"{channel}:{ts}" if ts else "",
            )
        )

    @app.error
    def on_error(error: Exception) -> BoltResponse:
        return refusal(error)

    return SlackApp(bolt=app, message=message)


def refusal(error: Exception) -> BoltResponse:
    """Slack's answer when a listener raised: 5xx when the message is not stored (Slack sends
    it again), 400 for a forged or broken form, 200 for an event the bot does not listen to."""
    if isinstance(error, BoltUnhandledRequestError):
        return BoltResponse(status=200, body="")  # an event the bot does not listen to
    if isinstance(error, ForgedOrBroken):
        log.warning("signed Slack request refused: %s", _short(error))
        return BoltResponse(status=400, body="")
    if isinstance(error, NotYetAnswerable | StoreUnavailable):
        log.warning("Slack event not stored, Slack will send it again: %s", _short(error))
        return BoltResponse(status=503, body="", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    # not stored (the database, a bug): Slack sends an event again after a 5xx
    log.error("Slack request not stored: %s: %s", type(error).__name__, _short(error))
    return BoltResponse(status=500, body="")


def _text(value: object) -> str:
    """A payload's field that should be text: what is not text is read as missing."""
    return value if isinstance(value, str) else ""


def _object(value: object) -> dict[str, Any]:
    """A payload's field that should be an object: what is not an object is read as empty."""
    return value if isinstance(value, dict) else {}
