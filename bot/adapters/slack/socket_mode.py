"""Slack's Socket Mode: no public URL. The bot asks `apps.connections.open` (with the app-level
token, `xapp-…`) for a websocket URL, connects out to it, and Slack sends each event, button
click and slash command as an envelope; the bot acks the envelope (`{"envelope_id": …}`) once
bolt's listeners stored the message, and Slack sends again what was not acked.

The transport is `websockets` (RFC 6455, pings both ways) rather than slack_sdk's own clients:
the built-in one spins for a minute on a connection cut without a close frame, and the
websocket-client one stalls ten seconds on each refresh. What an envelope means is still
bolt's: each goes through `App.dispatch` exactly as slack_bolt's Socket Mode handlers do, but for
a message, which goes straight to its listener as on `POST /slack/events` (`SlackApp.message`).

Every process holds a connection of its own (Slack spreads an app's envelopes over up to ten,
and the inbox stores each message once, whichever process took it). Envelopes are handled one
after another, so a chat's messages keep their order. A `disconnect`
(Slack refreshing the link) or a dropped connection is followed by a new connection at once,
then with backoff while connecting fails; a refused token is said once and not tried again.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.errors import SlackApiError
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from bot.adapters.slack.app import SlackApp
from bot.adapters.slack.http import NotSlacks, check_shape

log = logging.getLogger(__name__)

PING_SECONDS = 10.0  # a link that answers no ping within as long is taken as dropped
# How often the reading thread looks up from the link to see whether `close` was asked: only
# that thread closes its websocket. A close from another thread joins the websocket's reader
# while this thread's read may join it too, and Python 3.11 can fail two joins of one thread.
STOP_CHECK_SECONDS = 0.25
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024  # an envelope carries one payload, at most Slack's 3 MB
# apps.connections.open's answers that another try will not change
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "account_inactive",
     "token_revoked", "token_expired", "missing_scope"}
)  # fmt: skip


class TokenRefused(Exception):
    """Slack refused the app-level token: connecting again will not help."""


class SlackSocketMode:
    """One Socket Mode connection held in a thread of its own, from `connect` to `close`."""

    def __init__(
        self,
        slack: SlackApp,
        app_token: str,
        ping_seconds: float = PING_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self.slack = slack  # the same listeners as POST /slack/events
        self.app: App = slack.bolt
        self.app_token = app_token
        self.ping_seconds = ping_seconds
        self.backoff_max = backoff_max
        self.connected = threading.Event()  # a hello came on the connection held now
        self._stopping = threading.Event()
        self._acked_last = threading.Event()  # closing: the envelope being stored was acked
        self._thread: threading.Thread | None = None
        # one worker: envelopes are stored in the order Slack sent them
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-envelope")

    def connect(self) -> None:
        """Start connecting in the background; returns at once."""
        self._thread = threading.Thread(target=self._run, name="slack-socket-mode", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking envelopes, finish (and ack) the one being stored, then close the link
        (the reading thread closes it within STOP_CHECK_SECONDS); Slack sends again whatever
        was not acked."""
        self._stopping.set()
        self._worker.shutdown(wait=True)
        self._acked_last.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                url = self._open()
                if self._hold(url):
                    failures = 0  # it was connected: a drop or a refresh is followed at once
                else:
                    failures += 1
            except TokenRefused as err:
                log.error(
                    "Slack refused SLACK_APP_TOKEN (%s): Socket Mode stays off until a restart; "
                    "give it an app-level token (xapp-…) with connections:write, and turn on "
                    "Socket Mode in the app's settings (README: Slack)",
                    err,
                )
                return
            except (SlackApiError, OSError, InvalidHandshake, ConnectionClosed, ValueError) as err:
                log.warning("Slack Socket Mode could not connect: %s", _short(err))
                failures += 1
            except Exception:  # one connection's fault must not leave Socket Mode off for good
                log.exception("Slack Socket Mode connection failed; connecting again")
                failures += 1
            self.connected.clear()
            if failures:
                ceiling = min(self.backoff_max, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
                self._stopping.wait(random.uniform(ceiling / 2, ceiling))

    def _open(self) -> str:
        """A websocket URL from apps.connections.open (good for one connection)."""
        try:
            answer = self.app.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as err:
            error = str(err.response.get("error", ""))
            if error in TOKEN_REFUSED:
                raise TokenRefused(error) from None
            raise
        url = answer.get("url")
        if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
            raise ValueError("apps.connections.open gave no websocket URL")
        return url

    def _hold(self, url: str) -> bool:
        """One connection, read until it closes, Slack asks for a new one, or `close`;
        whether Slack said hello on it."""
        websocket = connect(
            url,
            open_timeout=10,
            ping_interval=self.ping_seconds,
            ping_timeout=self.ping_seconds,
            close_timeout=5,
            max_size=MAX_ENVELOPE_BYTES,
        )
        greeted = False
        try:
            # closing, it reads on (taking nothing new) until the last ack went out on this link
            while not self._acked_last.is_set():
                try:
                    message = websocket.recv(timeout=STOP_CHECK_SECONDS)
                except TimeoutError:
                    continue
                envelope = _json(message)
                kind = envelope.get("type")
                if kind == "hello":
                    greeted = True
                    self.connected.set()
                    log.info("Slack Socket Mode connected")
                elif kind == "disconnect":
                    reason = str(envelope.get("reason", ""))
                    log.info("Slack Socket Mode: Slack asks for a new connection (%s)", reason)
                    if reason == "link_disabled":
                        log.warning("Socket Mode was turned off in the Slack app's settings")
                    return greeted
                elif isinstance(envelope.get("envelope_id"), str) and not self._stopping.is_set():
                    try:
                        self._worker.submit(self._handle, websocket, envelope)
                    except RuntimeError:  # closing: Slack sends it again to the next connection
                        return greeted
        except ConnectionClosedOK:
            pass  # Slack closed it cleanly: a new connection follows
        except ConnectionClosed as err:
            if not self._stopping.is_set():
                log.warning("Slack Socket Mode connection dropped (%s); connecting again",
                            _short(err))  # fmt: skip
        except RuntimeError as err:  # websockets' reader joined twice at once: see _close
            log.warning("Slack Socket Mode link failed (%s); connecting again", _short(err))
        finally:
            _close(websocket)
        return greeted

    def _handle(self, websocket: ClientConnection, envelope: dict[str, Any]) -> None:
        """Hand the envelope's payload to our listeners (a message straight, the rest through
        bolt), which store it, then ack it; a payload that is not stored is not acked, and
        Slack sends it again."""
        envelope_id = str(envelope["envelope_id"])
        payload = envelope.get("payload")
        if not isinstance(payload, dict):
            payload = {}
        try:
            check_shape(payload)
        except NotSlacks as err:
            log.warning("Slack envelope of a payload bolt cannot read, acked and dropped: %s", err)
            self._ack(websocket, {"envelope_id": envelope_id})
            return
        headers: dict[str, str | Sequence[str]] = {}
        if envelope.get("retry_attempt") is not None:  # as the HTTP path's X-Slack-Retry-Num
            headers["x-slack-retry-num"] = str(envelope["retry_attempt"])
            headers["x-slack-retry-reason"] = str(envelope.get("retry_reason") or "")
        if self.slack.message_of(payload):  # most envelopes: straight to the message listener
            response = self.slack.answer_message(payload)
        else:
            request = BoltRequest(mode="socket_mode", body=payload, headers=headers)
            response = self.app.dispatch(request)  # with process_before_response: stored first
        if response.status != 200:
            log.warning("Slack envelope %s not acked (%s): Slack sends it again", envelope_id,
                        response.status)  # fmt: skip
            return
        ack: dict[str, Any] = {"envelope_id": envelope_id}
        body = response.body or ""
        if body:  # a form's errors, or a reply bolt gives: Slack reads it from the ack
            content_type = (response.headers.get("content-type") or [""])[0]
            ack["payload"] = json.loads(body) if content_type.startswith("application/json") \
                else {"text": body}  # fmt: skip
        self._ack(websocket, ack)

    def _ack(self, websocket: ClientConnection, ack: dict[str, Any]) -> None:
        try:
            websocket.send(json.dumps(ack))
        except (ConnectionClosed, RuntimeError):  # the link went meanwhile (RuntimeError: see
            # _close): Slack sends the envelope again
            log.info("Slack envelope %s not acked: the connection closed", ack["envelope_id"])


def _close(websocket: ClientConnection) -> None:
    """Close the link, and its socket even when the closing handshake fails: websockets'
    keepalive thread joins the link's reader on a timeout while close joins it too, and Python
    3.11 can fail two joins of one thread ("release unlocked lock")."""
    try:
        websocket.close()
    except RuntimeError as err:
        log.info("Slack Socket Mode link closed without its handshake (%s)", _short(err))
        websocket.close_socket()


def _json(message: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(message)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _short(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
