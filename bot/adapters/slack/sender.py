"""Slack's side of delivery: neutral cards out through the Web API (chat.postMessage,
chat.update, chat.postEphemeral), with Slack's errors sorted into retry-later and never."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.adapters.slack.blocks import Json, card_to_message
from bot.runtime.delivery import NeverDeliverable, Outgoing, RetryLater

DEFAULT_API = "https://slack.com/api/"
# Slack's answers that a later try may cure; any other error (no such channel, bad blocks, a
# revoked token…) will not, and the message is marked failed with it.
TRY_AGAIN = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# A neutral mark on a message, as the emoji Slack reacts with. A name not here is taken as an
# emoji's own: marks queued before they were neutral say "warning".
REACTIONS = {"attention": "warning"}


def slack_client(token: str, base_url: str | None = None) -> WebClient:
    """A Web API client with the bot token at `base_url` (`SLACK_API_BASE_URL`; None: Slack's
    own), without its own retries: delivery decides when to try again and keeps the order per
    channel."""
    return WebClient(
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
            elif message.mode == "thread" and message.target_ref:
                thread_ts = message.target_ref.split(":", 1)[-1]
                answer = self.client.chat_postMessage(
                    channel=message.chat, thread_ts=thread_ts, **body
                )
            else:
                answer = self.client.chat_postMessage(channel=message.chat, **body)
        except SlackApiError as err:
            if message.mode == "react" and err.response.get("error") == "already_reacted":
                return message.target_ref  # a redelivered reaction is already there: done
            raise _sorted(err) from err
        except OSError as err:  # connection refused, reset, timed out
            raise RetryLater(f"network: {err}") from err
        return f"{answer.get('channel', message.chat)}:{answer.get('ts', '')}"


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
