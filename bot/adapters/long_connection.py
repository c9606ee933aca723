"""A platform's long connection (a websocket the bot opens: DingTalk's Stream, WeCom's
intelligent robot): held in a thread of its own while `may_connect` says so (only the process
that leads holds one), opened again after it ends, with jittered backoff while it keeps
failing, and closed on `stop`.

A platform's connection says how to hold one connection (`_hold`) and what an error that ended
it means (`_failed`); the thread, the loop and the waiting are here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 1.0


class LongConnection:
    """Connects in a background thread and keeps connecting until `stop`."""

    thread_name = "long-connection"

    def __init__(self, may_connect: Callable[[], bool], backoff_max: float) -> None:
        self.may_connect = may_connect
        self.backoff_max = backoff_max
        self.connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        """Connect in the background, and keep connecting until `stop`."""
        self._thread = threading.Thread(target=self._main, name=self.thread_name, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def stop(self) -> None:
        """Close the connection and stop; what was not acknowledged the platform sends again."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` failures in a row: 1 s doubling up to
        `backoff_max`, jittered so that many processes do not come back at once."""
        ceiling = min(self.backoff_max, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    # -- what a platform's connection says -------------------------------------------------

    async def _prepare(self) -> None:
        """Before the first connection."""

    async def _hold(self) -> None:
        """One connection, until it closes, this process stops leading, or `stop`."""
        raise NotImplementedError

    def _failed(self, err: Exception, failures: int) -> tuple[float, int]:
        """A connection ended with `err`: the seconds to wait before the next (0: back off by
        the failures) and the failures in a row counted now."""
        log.warning("%s connection failed: %s", self.thread_name, err.__class__.__name__)
        return 0.0, failures + 1

    def _down(self) -> None:
        """The connection is gone."""
        self.connected.clear()

    # -- inside the loop -------------------------------------------------------------------

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._prepare()
        failures = 0
        while not self._stopping.is_set():
            if not self.may_connect():
                await self._pause(1.0)
                continue
            pause = 0.0
            try:
                await self._hold()
                failures = 0  # it was connected: a drop is tried again at once
            except Exception as err:  # a drop, the network, the platform's errors
                pause, failures = self._failed(err, failures)
            self._down()
            if not pause and failures:
                pause = self.backoff(failures)
            if pause:
                await self._pause(pause)

    async def _pause(self, seconds: float) -> None:
        assert self._stopping is not None  # set by _run before this is called
        with contextlib.suppress(TimeoutError):  # the pause is over, not stopped
            await asyncio.wait_for(self._stopping.wait(), seconds)
