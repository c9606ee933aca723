"""Who the bot is on Slack: its user id, which tells a mention of it in a channel. Learned
without ever failing a request: bolt's own first-request auth.test would answer Slack 200 and
lose the message while Slack is down."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

# After a 429 from auth.test, how long not to ask again when Slack names no Retry-After, and
# the most a Retry-After is believed: a flood of events must not become a flood of auth.test.
RATE_LIMIT_PAUSE = 30.0
RATE_LIMIT_PAUSE_MAX = 600.0
LOG_LINE_LIMIT = 300


class BotIdentity:
    """Who the bot is on Slack (its user id, for telling a mention of it in a channel), learned
    from a signed event's `authorizations` or from auth.test when Slack answers it. Never fails
    a request by itself: an unknown identity is `None`."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._user_id: str | None = None
        self._quiet_until = 0.0  # Slack's Retry-After for auth.test, on the monotonic clock

    @property
    def user_id(self) -> str | None:
        """The bot's user id when already known."""
        return self._user_id

    def learn(self, body: dict[str, Any]) -> str | None:
        """The bot's user id: from this event's own authorization of the bot when there is
        one, else as learned before, else from auth.test (one at a time, and after Slack
        rate-limited it not before its Retry-After)."""
        authorizations = body.get("authorizations")
        for authorization in authorizations if isinstance(authorizations, list) else ():
            user = _object(authorization).get("user_id")
            if _object(authorization).get("is_bot") is True and isinstance(user, str) and user:
                self._user_id = user
                return user
        with self._lock:  # one auth.test at a time, however many requests wait for it
            if self._user_id is not None:
                return self._user_id
            if time.monotonic() < self._quiet_until:
                return None
            try:
                answer = self._client.auth_test()
            except SlackApiError as err:
                if err.response.status_code == 429:  # Slack says when to ask again: no sooner
                    after = err.response.headers.get("Retry-After") or RATE_LIMIT_PAUSE
                    self._quiet_until = time.monotonic() + _seconds(after)
                log.warning("Slack's auth.test failed (%s): asking again later", _short(err))
                return None
            except OSError as err:  # Slack unreachable
                log.warning("Slack's auth.test failed (%s): asking again later", _short(err))
                return None
            user = answer.get("user_id")
            self._user_id = user if isinstance(user, str) and user else None
            return self._user_id


def _seconds(value: object) -> float:
    try:
        return min(max(float(str(value)), 0.0), RATE_LIMIT_PAUSE_MAX)
    except ValueError:
        return RATE_LIMIT_PAUSE


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(err: BaseException) -> str:
    return str(err).split("\n", 1)[0][:LOG_LINE_LIMIT]
