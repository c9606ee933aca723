"""A fake of Slack's Socket Mode server for tests, written from Slack's documented protocol
(docs.slack.dev, "Using Socket Mode"): a real RFC 6455 websocket on 127.0.0.1 (the `websockets`
library, which answers the client's pings with pongs), joined to tests/fake_slack.py's Web API.

`apps.connections.open` (POST, `Authorization: Bearer xapp-…`) answers
`{"ok": true, "url": "ws://127.0.0.1:PORT/link/?ticket=…"}` for the app token, `invalid_auth`
for another one. A connection opened with a ticket (each is good once) is greeted with
`{"type": "hello", "num_connections": n, "debug_info": {...}, "connection_info": {"app_id": …}}`;
then `send` pushes an envelope `{"envelope_id", "type", "accepts_response_payload",
"retry_attempt", "retry_reason", "payload"}` to the newest connection (queued until one is
open) and the client acks with `{"envelope_id": E}` (maybe with a "payload"). An Events API
envelope not acked within `ack_timeout` is sent again with `retry_attempt` + 1 and
`retry_reason` "timeout", up to `max_retries` (three) times, as Slack does (interactivity and
slash commands are not retried). `disconnect` sends `{"type": "disconnect", "reason": …}`
and closes; `drop` closes the TCP connection with no goodbye at all.

    with FakeSlack() as api, FakeSlackSocket(api) as socket:
        envelope_id = socket.send("events_api", event_callback)
        ack = socket.wait_ack(envelope_id)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import socket as sockets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.fake_slack import APP_ID, FakeSlack

APP_TOKEN = "xapp-1-A1-test"
MAX_RETRIES = 3  # Slack retries an event three times


@dataclass
class Envelope:
    """One envelope and what became of it: when each attempt was sent, and the ack."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    attempts: list[float] = field(default_factory=list)  # time.monotonic() of each send
    ack: dict[str, Any] | None = None

    def frame(self) -> str:
        """The envelope as Slack sends it, on its latest attempt."""
        retry = len(self.attempts) - 1
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "type": self.type,
                "accepts_response_payload": self.accepts_response_payload,
                "retry_attempt": max(retry, 0),
                "retry_reason": "timeout" if retry > 0 else "",
                "payload": self.payload,
            }
        )


class FakeSlackSocket:
    """The Socket Mode server. `connections` counts the websockets opened (each with a valid
    ticket), `hellos` the hello messages sent; `on_ack(envelope_id)` runs in the server's
    thread the moment an ack arrives, before it is recorded."""

    def __init__(
        self,
        api: FakeSlack,
        app_token: str = APP_TOKEN,
        ack_timeout: float = 3.0,
        on_ack: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.app_token = app_token
        self.ack_timeout = ack_timeout
        self.max_retries = MAX_RETRIES
        self.on_ack = on_ack
        self.connections = 0
        self.opened: list[str] = []  # tickets asked for through apps.connections.open
        self.unknown_messages: list[str] = []  # what the client sent that is not an ack
        self._tickets: set[str] = set()
        self._envelopes: dict[str, Envelope] = {}
        self._open: list[ServerConnection] = []  # newest last
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._stop = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._server = serve(self._serve, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._retry_unacked, daemon=True).start()
        self.api.socket_mode = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self.api.socket_mode = None
        for connection in self._connections():
            with contextlib.suppress(Exception):
                connection.close()
        if self._server is not None:
            self._server.shutdown()

    # -- apps.connections.open (called by the Web API fake) ----------------------------------

    def connections_open(self, token: str | None) -> dict[str, Any]:
        """The answer to apps.connections.open: a one-time websocket URL for the app token."""
        if token is None:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        assert self._server is not None
        ticket = secrets.token_hex(8)
        with self._changed:
            self._tickets.add(ticket)
            self.opened.append(ticket)
        port = self._server.socket.getsockname()[1]
        return {"ok": True, "url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={APP_ID}"}

    # -- scripting ---------------------------------------------------------------------------

    def send(
        self, kind: str, payload: dict[str, Any], accepts_response_payload: bool = False
    ) -> str:
        """Push an envelope of `kind` (events_api, interactive, slash_commands) to the newest
        open connection (or the next one to open); returns its envelope id."""
        envelope = Envelope(f"env-{next(self._ids)}-{secrets.token_hex(4)}", kind, payload,
                            accepts_response_payload)  # fmt: skip
        with self._changed:
            self._envelopes[envelope.envelope_id] = envelope
        self._deliver(envelope)
        return envelope.envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 30) -> dict[str, Any]:
        """Block until the envelope is acked; the ack as the client sent it."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self._envelopes[envelope_id].ack is not None, timeout
            ):
                raise TimeoutError(f"no ack for {envelope_id} after {timeout}s")
            ack = self._envelopes[envelope_id].ack
            assert ack is not None
            return ack

    def attempts(self, envelope_id: str) -> int:
        """How many times the envelope was sent."""
        with self._changed:
            return len(self._envelopes[envelope_id].attempts)

    def acked(self, envelope_id: str) -> dict[str, Any] | None:
        """The envelope's ack, None while there is none."""
        with self._changed:
            return self._envelopes[envelope_id].ack

    def wait_connected(self, count: int = 1, timeout: float = 30) -> None:
        """Block until `count` connections were opened in all (and one is open now)."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self.connections >= count and bool(self._open), timeout
            ):
                raise TimeoutError(f"{self.connections} connections after {timeout}s")

    def wait_closed(self, timeout: float = 30) -> None:
        """Block until no connection is open."""
        with self._changed:
            if not self._changed.wait_for(lambda: not self._open, timeout):
                raise TimeoutError(f"still connected after {timeout}s")

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Tell the newest connection to go (refresh_requested, warning, link_disabled) and
        close it, as Slack does before it moves a connection."""
        for connection in self._connections()[-1:]:
            with contextlib.suppress(ConnectionClosed):
                connection.send(json.dumps({"type": "disconnect", "reason": reason,
                                            "debug_info": {"host": "fake-slack"}}))  # fmt: skip
            time.sleep(0.2)  # Slack closes a moment after its notice
            with contextlib.suppress(Exception):
                connection.close()

    def drop(self) -> None:
        """Cut every open connection's TCP stream, without a close frame."""
        for connection in self._connections():
            with contextlib.suppress(OSError):
                connection.socket.shutdown(sockets.SHUT_RDWR)

    # -- the server's threads ----------------------------------------------------------------

    def _connections(self) -> list[ServerConnection]:
        with self._changed:
            return list(self._open)

    def _serve(self, connection: ServerConnection) -> None:
        request = connection.request
        query = parse_qs(urlsplit(request.path if request else "").query)
        ticket = (query.get("ticket") or [""])[0]
        with self._changed:
            if ticket not in self._tickets:
                connection.close(1008, "invalid ticket")  # a ticket is good for one connection
                return
            self._tickets.discard(ticket)
            self.connections += 1
            self._open.append(connection)
            count = len(self._open)
            self._changed.notify_all()
        try:
            connection.send(json.dumps({
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": "fake-slack", "build_number": 1,
                               "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }))  # fmt: skip
            self._deliver_waiting()
            for message in connection:
                self._received(message)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if connection in self._open:
                    self._open.remove(connection)
                self._changed.notify_all()

    def _received(self, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        try:
            ack = json.loads(text)
        except ValueError:
            ack = None
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        with self._changed:
            known = self._envelopes.get(envelope_id) if isinstance(envelope_id, str) else None
        if known is None or not isinstance(ack, dict):
            with self._changed:
                self.unknown_messages.append(text)
            return
        if self.on_ack is not None:
            self.on_ack(known.envelope_id)
        with self._changed:
            if known.ack is None:
                known.ack = ack
            self._changed.notify_all()

    def _deliver(self, envelope: Envelope) -> None:
        """Send the envelope on the newest connection; without one, it waits for the next."""
        newest = self._connections()[-1:]
        with self._changed:
            envelope.attempts.append(time.monotonic())
            if not newest:
                envelope.attempts.pop()  # not sent: it goes when a connection opens
                return
        try:
            newest[0].send(envelope.frame())
        except ConnectionClosed:
            with self._changed:
                envelope.attempts.pop()

    def _deliver_waiting(self) -> None:
        with self._changed:
            waiting = [e for e in self._envelopes.values() if not e.attempts]
        for envelope in waiting:
            self._deliver(envelope)

    def _retry_unacked(self) -> None:
        while not self._stop.wait(0.1):
            now = time.monotonic()
            with self._changed:
                due = [
                    e
                    for e in self._envelopes.values()
                    if e.type == "events_api"
                    and e.ack is None
                    and e.attempts
                    and len(e.attempts) <= self.max_retries
                    and now - e.attempts[-1] > self.ack_timeout
                ]
            for envelope in due:
                self._deliver(envelope)
