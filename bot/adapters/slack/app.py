"""Slack's adapter: bolt listeners that turn Slack's events, slash commands, button clicks and
form submissions into `Incoming` for the one conversation. Nothing here decides anything, and
nothing here sends a message: replies go through the outbox like every other platform's."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.runtime.context import Runtime
from bot.settings import SLACK
from handlers.conversation import accept
from handlers.incoming import ButtonPress, Incoming
from messages.render import render_card
from vmi_rules.roles import may

log = logging.getLogger(__name__)

ADJUST_FORM = "vmi_adjust"
QTY_BLOCK, QTY_INPUT = "qty", "value"
MAX_QTY = 1_000_000
# Slack's markup for a person, a channel or a broadcast in a message's text: <@U1>, <#C1|name>,
# <!channel>. Nobody types them as words, so they are dropped.
MENTION = re.compile(r"<[@!#][^<>]*>")


def typed_text(text: str) -> str:
    """A Slack message's text as the person typed it: mentions become a space, and Slack's
    escapes (&lt; &gt; &amp;) the characters they stand for. Links (<http://…|label>) stay."""
    text = MENTION.sub(" ", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_time(ts: str | None) -> datetime:
    """A Slack `ts` ("1700000000.000100") as an aware time; now when missing."""
    try:
        return datetime.fromtimestamp(float(ts or ""), UTC)
    except ValueError:
        return datetime.now(UTC)


def build_slack_app(
    runtime: Runtime,
    client: WebClient,
    signing_secret: str,
    on_accepted: Callable[[], None] = lambda: None,
) -> App:
    """The bolt app for `POST /slack/events` (and Socket Mode): its listeners only translate."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,  # the message is in the inbox before Slack hears 200
        # who the bot is (auth.test) is asked at the first request, so a start needs no Slack
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
    )

    agreement_channels = {a.slack_channel for a in runtime.config.agreements if a.slack_channel}

    def take(incoming: Incoming) -> None:
        # Slack hears 200 once the message is stored; the inbox worker handles it right after
        if accept(runtime.engine, incoming) is not None:
            on_accepted()

    def said(event: dict[str, Any], context: BoltContext, mentioned: bool) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, deletions, joins and every bot's own messages
        direct = event.get("channel_type") == "im"
        if not direct and event.get("channel") not in agreement_channels:
            return  # a channel of no agreement: the bot may be in it, but it is not its business
        bot = context.bot_user_id or ""
        text = event.get("text", "")
        addressed = mentioned or (bool(bot) and f"<@{bot}>" in text)
        channel, ts = event.get("channel", ""), event.get("ts", "")
        take(
            Incoming(
                platform=SLACK,
                chat=channel,
                sender=event["user"],
                # the message and its app_mention are one message: one id for both
                message_id=f"msg:{channel}:{ts}",
                at=slack_time(ts),
                text=typed_text(text),
                direct=direct,
                addressed=addressed or direct,
                origin_ref=f"{channel}:{ts}",
                # answers go to the thread's first message; the ⚠ goes on this one
                thread_ref=f"{channel}:{event['thread_ts']}" if event.get("thread_ts") else "",
            )
        )

    @app.event("message")
    def on_message(event: dict[str, Any], context: BoltContext) -> None:
        said(event, context, mentioned=False)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], context: BoltContext) -> None:
        said(event, context, mentioned=True)

    @app.command("/vmi")
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        ack()
        take(
            Incoming(
                platform=SLACK,
                chat=command.get("channel_id", ""),
                sender=command.get("user_id", ""),
                message_id=f"cmd:{command.get('trigger_id', '')}",
                at=datetime.now(UTC),
                text=typed_text(command.get("text", "")) or "help",
                direct=True,
                via="command",
                # answered through the command's response_url: it works in any channel
                origin_ref=command.get("response_url", ""),
            )
        )

    @app.action(re.compile(r"^vmi:"))
    def on_button(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        pressed = body["actions"][0]
        action = pressed["action_id"].split(":", 1)[1]
        proposal = pressed.get("value", "")
        user = body.get("user", {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        message_ts = (body.get("container") or {}).get("message_ts") or (
            body.get("message") or {}
        ).get("ts", "")
        member = runtime.config.member_by_platform(SLACK, user)
        if action == "adjust" and member is not None and may(member.role, "adjust"):
            # Slack's trigger_id lives 3 seconds: the form opens now, not through the outbox.
            locale = member.locale or runtime.config.bot.locale
            client.views_open(
                trigger_id=body["trigger_id"],
                view=adjust_form(proposal, channel, message_ts, locale),
            )
            return
        take(
            Incoming(
                platform=SLACK,
                chat=channel,
                sender=user,
                message_id=f"act:{pressed.get('action_ts', '')}:{user}",
                at=slack_time(pressed.get("action_ts")),
                button=ButtonPress(action, proposal),
                direct=False,
                via="button",
                origin_ref=f"{channel}:{message_ts}" if message_ts else "",
            )
        )

    @app.view(ADJUST_FORM)
    def on_adjust(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        raw = view["state"]["values"][QTY_BLOCK][QTY_INPUT].get("value") or ""
        meta = json.loads(view.get("private_metadata") or "{}")
        user = body.get("user", {}).get("id", "")
        member = runtime.config.member_by_platform(SLACK, user)
        locale = (member.locale if member else None) or runtime.config.bot.locale
        qty = _whole(raw)
        if qty is None:
            words = render_card("adjust_form", locale, proposal_id=meta.get("proposal", ""))
            ack(response_action="errors", errors={QTY_BLOCK: words.lines[2]})
            return
        ack()
        channel, ts = meta.get("channel", ""), meta.get("ts", "")
        take(
            Incoming(
                platform=SLACK,
                chat=channel,
                sender=user,
                message_id=f"view:{view.get('id', '')}",
                at=datetime.now(UTC),
                text=f"adjust {meta.get('proposal', '')} {qty}",
                direct=False,
                via="form",
                origin_ref=f"{channel}:{ts}" if ts else "",
            )
        )

    return app


def _whole(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip()  # full-width "６０" is 60
    if not (text.isascii() and text.isdecimal()):  # "²" is a digit to Python, not a number
        return None
    qty = int(text)
    return qty if 0 < qty <= MAX_QTY else None


def adjust_form(proposal: str, channel: str, ts: str, locale: str) -> dict[str, Any]:
    """The modal asking the buyer for the new quantity of a proposal."""
    words = render_card("adjust_form", locale, proposal_id=proposal)
    label, submit = words.lines[0], words.lines[1]
    return {
        "type": "modal",
        "callback_id": ADJUST_FORM,
        "title": {"type": "plain_text", "text": words.title[:24]},
        "submit": {"type": "plain_text", "text": submit[:24]},
        "private_metadata": json.dumps({"proposal": proposal, "channel": channel, "ts": ts}),
        "blocks": [
            {
                "type": "input",
                "block_id": QTY_BLOCK,
                "label": {"type": "plain_text", "text": label},
                "element": {"type": "plain_text_input", "action_id": QTY_INPUT},
            }
        ],
    }
