"""Slack's side of delivery: neutral cards out through the Web API (chat.postMessage,
chat.update, chat.postEphemeral), with Slack's errors sorted into retry-later and never.
A card's picture (the monthly review's chart) follows its post as a file shared in the same
channel or thread (files_upload_v2: getUploadURLExternal, the upload, completeUploadExternal).

Every post carries the outbox row's key in its message metadata. When a send may have reached
Slack before (a crash or a timeout cut it off), the channel's recent history, or the thread's
replies, are read for that key first, and a message found there is not posted again.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.adapters.slack.blocks import Json, card_to_message
from bot.adapters.slack.connections import KeptAliveWebClient
from bot.runtime.delivery import UNSURE, NeverDeliverable, Outgoing, RetryLater

log = logging.getLogger(__name__)

DEFAULT_API = "https://slack.com/api/"
# Slack's answers that a later try may cure; any other error (no such channel, bad blocks, a
# revoked token…) will not, and the message is marked failed with it.
TRY_AGAIN = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# A neutral mark on a message, as the emoji Slack reacts with. A name not here is taken as an
# emoji's own: marks queued before they were neutral say "warning".
REACTIONS = {"attention": "warning"}
# The metadata event every post carries; its payload's "outbox" is the row's key.
METADATA_EVENT = "vmi_outbox_message"
# How far back a post cut off by a crash is looked for: the channel's or thread's newest
# messages, a page of 200 at a time (a chat waits behind its unsent row, so ours is recent).
LOOKUP_PAGES, LOOKUP_PAGE_SIZE = 3, 200


def slack_client(token: str, base_url: str | None = None) -> WebClient:
    """A Web API client with the bot token at `base_url` (`SLACK_API_BASE_URL`; None: Slack's
    own), without its own retries: delivery decides when to try again and keeps the order per
    channel. Its calls keep their connections."""
    return KeptAliveWebClient(
        token=token,
        # slack_sdk joins method names onto it: without the slash it would drop "/api"
        base_url=(base_url or DEFAULT_API).rstrip("/") + "/",
        retry_handlers=[],
        timeout=15,
    )


class SlackSender:
    """Sends outbox rows to Slack; the reference it returns is `channel:ts`."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _respond(self, url: str, body: Json) -> str:
        """Answer a slash command privately through its response_url."""
        answer = WebhookClient(url, timeout=15).send(
            response_type="ephemeral", text=str(body["text"]), blocks=body.get("blocks")
        )
        if answer.status_code != 200:
            raise _respond_failure(answer.status_code)
        return url

    def send(self, message: Outgoing) -> str:
        """Post, answer in a thread, update in place, or answer one person only."""
        body = card_to_message(message.card)
        try:
            if message.mode == "react":
                channel, ts = message.target_ref.split(":", 1)
                name = REACTIONS.get(message.card.title, message.card.title)
                self.client.reactions_add(channel=channel, timestamp=ts, name=name)
                return message.target_ref
            if message.mode == "update" and message.target_ref:
                channel, ts = message.target_ref.split(":", 1)
                answer = self.client.chat_update(channel=channel, ts=ts, **body)
            elif message.mode == "ephemeral" and message.target_ref.startswith("http"):
                return self._respond(message.target_ref, body)
            elif message.mode == "ephemeral":
                answer = self.client.chat_postEphemeral(
                    channel=message.chat, user=message.recipient, **body
                )
                return f"{message.chat}:{answer.get('message_ts', '')}"
            else:
                threaded = message.mode == "thread" and message.target_ref
                thread_ts = message.target_ref.split(":", 1)[-1] if threaded else None
                found = self._posted_before(message, thread_ts) if message.maybe_sent else None
                if found is not None:
                    # the post is there; its picture may not be: shared again at worst
                    self._share_picture(message, thread_ts)
                    return found
                if thread_ts is not None:
                    body = {**body, "thread_ts": thread_ts}
                answer = self.client.chat_postMessage(
                    channel=message.chat, metadata=_metadata(message), **body
                )
                self._share_picture(message, thread_ts)
        except SlackApiError as err:
            if message.mode == "react" and err.response.get("error") == "already_reacted":
                return message.target_ref  # a redelivered reaction is already there: done
            raise _sorted(err) from err
        except OSError as err:  # connection refused, reset, timed out
            raise RetryLater(f"network: {err}") from err
        return f"{answer.get('channel', message.chat)}:{answer.get('ts', '')}"

    def _share_picture(self, message: Outgoing, thread_ts: str | None) -> None:
        """Share the card's picture where the card went. Its post is out already: a failure
        here is retried as maybe sent, so the next try finds the post and shares only this."""
        card = message.card
        if not card.image:
            return
        try:
            self.client.files_upload_v2(
                channel=message.chat,
                file=card.image_bytes(),
                filename=card.image_name or "picture.png",
                title=card.title,
                thread_ts=thread_ts,
            )
        except SlackApiError as err:
            sorted_err = _sorted(err)
            if not isinstance(sorted_err, RetryLater):
                # the card is posted; a picture Slack will never take is not worth a failed row
                log.warning("outbox %s: picture not shared (%s)", message.id, sorted_err)
                return
            raise RetryLater(f"{UNSURE}picture: {sorted_err}", sorted_err.after) from err
        except Exception as err:  # the upload URL's own request (urllib), or its status
            raise RetryLater(f"{UNSURE}picture: {err}") from err

    def _posted_before(self, message: Outgoing, thread_ts: str | None) -> str | None:
        """The reference of this row's post when Slack has it already; None when not found, or
        when Slack will not let us look (then it is posted again: at least once)."""
        channel, cursor = message.chat, None
        try:
            for _ in range(LOOKUP_PAGES):
                if thread_ts is None:
                    answer = self.client.conversations_history(
                        channel=channel, include_all_metadata=True, limit=LOOKUP_PAGE_SIZE,
                        cursor=cursor,
                    )  # fmt: skip
                else:
                    answer = self.client.conversations_replies(
                        channel=channel, ts=thread_ts, include_all_metadata=True,
                        limit=LOOKUP_PAGE_SIZE, cursor=cursor,
                    )  # fmt: skip
                for posted in answer.get("messages") or []:
                    mark = posted.get("metadata") or {}
                    payload = mark.get("event_payload") or {}
                    if (
                        mark.get("event_type") == METADATA_EVENT
                        and payload.get("outbox") == message.key
                    ):
                        log.info(
                            "outbox %s: found in %s already, not posted again",
                            message.id,
                            message.chat,
                        )
                        return f"{message.chat}:{posted.get('ts', '')}"
                cursor = (answer.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
        except SlackApiError as err:
            sorted_err = _sorted(err)
            if isinstance(sorted_err, RetryLater):
                raise sorted_err from err  # look again later rather than post blind
            log.warning("outbox %s: cannot look in %s for an earlier post (%s); posting",
                        message.id, message.chat, err.response.get("error"))  # fmt: skip
        return None


def _metadata(message: Outgoing) -> Json:
    """The row's mark on its post, found again by `_posted_before`."""
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox": message.key}}


def _respond_failure(status: int) -> Exception:
    # a response_url lives 30 minutes and takes 5 answers: after that, 404 for good
    return (
        RetryLater(f"response_url answered HTTP {status}")
        if status >= 500 or status == 429
        else NeverDeliverable(f"response_url answered HTTP {status}")
    )


def _sorted(err: SlackApiError) -> Exception:
    response = err.response
    status = response.status_code
    if status == 429:
        after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return RetryLater("rate limited (429)", float(after) if after else None)
    if status >= 500:
        return RetryLater(f"Slack answered HTTP {status}")
    error = response.get("error", "") if isinstance(response.data, dict) else ""
    if error in TRY_AGAIN:
        return RetryLater(error)
    return NeverDeliverable(error or f"HTTP {status}")
