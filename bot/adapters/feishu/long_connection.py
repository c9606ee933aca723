"""Feishu's long connection (长连接): the SDK's websocket client (`lark.ws.Client`), which asks
Feishu for an endpoint (`/callback/ws/endpoint`), connects out to it and receives events and
card actions as protobuf frames, answering each after our listener stored it. No public URL is
needed. Only the process that leads holds it (as it runs the scheduler): Feishu hands each event
to one connection of the app.

The SDK's client runs on an asyncio loop of its own module and never returns; here it runs in
a daemon thread on a loop made for it, and `stop` closes the connection and ends that loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import lark_oapi as lark
from lark_oapi.ws import client as ws_client

log = logging.getLogger(__name__)


class FeishuLongConnection:
    """The long connection, started once this process leads and stopped with the service."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        dispatcher: lark.EventDispatcherHandler,
        domain: str,
        leading: Callable[[float], bool] = lambda _timeout: True,
    ) -> None:
        self._app = (app_id, app_secret, domain)
        self._dispatcher = dispatcher
        self.client: ws_client.Client | None = None
        self._leading = leading
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect in the background (once this process leads)."""
        self._thread = threading.Thread(target=self._run, name="feishu-long-connection",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self) -> None:
        while not self._leading(1.0):
            if self._stop.is_set():
                return
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
        self._loop = loop
        if self._stop.is_set():
            return
        log.info("Feishu long connection: connecting")
        try:
            client.start()
        except RuntimeError:
            pass  # the loop was stopped by stop(): "Event loop stopped before Future completed"
        except Exception as err:  # a refused app id or secret: said once, not retried
            log.error("Feishu long connection failed: %s", err)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and end its loop; events not answered are sent again."""
        self._stop.set()
        loop, client = self._loop, self.client
        if loop is not None and client is not None and loop.is_running():
            client._auto_reconnect = False  # the SDK offers no stop of its own

            async def close() -> None:
                await client._disconnect()
                loop.stop()

            asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(timeout)
