"""Feishu's long connection (长连接): the SDK's websocket client (`lark.ws.Client`), which asks
Feishu for an endpoint (`/callback/ws/endpoint`), connects out to it and receives events and
card actions as protobuf frames, answering each after our listener stored it. No public URL is
needed. Only the process that leads holds it (as it runs the scheduler): Feishu hands each event
to one connection of the app. When leadership moves, the old leader closes its connection
within a second and the new one opens its own.

The SDK's client runs on an asyncio loop of its own module and never returns; here it runs in
a daemon thread on a loop made for each turn of leading, and a watcher on that loop closes the
connection and ends the loop when the turn ends or the service stops.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import lark_oapi as lark
from lark_oapi.ws import client as ws_client

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0  # how soon a process that stopped leading lets go of the connection


class FeishuLongConnection:
    """The long connection, held only while this process leads: opened when it starts to
    lead, closed when it stops (the new leader opens its own), and closed with the service."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        dispatcher: lark.EventDispatcherHandler,
        domain: str,
        leading: Callable[[float], bool] = lambda _timeout: True,
        still_leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self._app = (app_id, app_secret, domain)
        self._dispatcher = dispatcher
        self.client: ws_client.Client | None = None
        self._leading = leading  # waits up to its timeout for this process to lead
        self._still_leading = still_leading
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()  # a connection is held now

    def start(self) -> None:
        """Connect in the background whenever this process leads."""
        self._thread = threading.Thread(target=self._run, name="feishu-long-connection",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._leading(WATCH_SECONDS) or self._stop.is_set():
                continue
            if not self._hold():
                return  # refused: said once, not tried again

    def _hold(self) -> bool:
        """One turn of leading: connect, and close once this process stops leading or the
        service stops. False when Feishu refused the app's credentials."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # the SDK's client reads its module's loop: this thread's is the one it runs on
        ws_client.loop = loop
        # made here: the SDK's client ties its caches to the loop of the thread that makes it
        app_id, app_secret, domain = self._app
        client = self.client = ws_client.Client(
            app_id,
            app_secret,
            event_handler=self._dispatcher,
            domain=domain,
            log_level=lark.LogLevel.WARNING,
        )
        watching = loop.create_task(self._watch(client))
        log.info("Feishu long connection: connecting")
        refused = False
        try:
            client.start()
        except (RuntimeError, asyncio.CancelledError):
            pass  # the loop was stopped by _watch: "Event loop stopped before Future completed"
        except Exception as err:  # a refused app id or secret: said once, not retried
            log.error("Feishu long connection failed: %s", err)
            refused = True
        finally:
            self.connected.clear()
            watching.cancel()
            loop.run_until_complete(_close(client))
            loop.close()
        return not refused

    async def _watch(self, client: ws_client.Client) -> None:
        """End the turn once this process no longer leads, or the service stops."""
        while not self._stop.is_set() and self._still_leading():
            if client._conn is not None:
                self.connected.set()
            await asyncio.sleep(WATCH_SECONDS / 5)
        if not self._stop.is_set():
            log.info("Feishu long connection: this process no longer leads; closing it")
        client._auto_reconnect = False  # the SDK offers no stop of its own
        asyncio.get_running_loop().stop()  # client.start() returns; _hold then closes

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and end its loop; events not answered are sent again."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


async def _close(client: ws_client.Client) -> None:
    """Close the client's connection, its receive and ping loops first (so that the close is
    not taken for a drop), and leave nothing pending on the loop."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await client._disconnect()
