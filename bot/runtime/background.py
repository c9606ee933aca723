"""A worker thread that does passes of work: at once when woken, else every few seconds."""

from __future__ import annotations

import logging
import threading

from bot.storage.db import StoreUnavailable

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Runs `pass_once` in a thread until `stop`; a pass that says there is more runs again."""

    name = "worker"

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pass_once(self) -> bool:
        """Do one pass of work; True when more is waiting right now."""
        raise NotImplementedError

    def start(self) -> None:
        """Work in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """There is new work: look now rather than at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass in hand and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        unavailable = ""  # said once while the database stays unwritable, not every pass
        while True:
            try:
                more = self.pass_once()
                if unavailable:
                    log.warning("%s: the database can be written again", self.name)
                unavailable = ""
            except StoreUnavailable as err:
                if err.reason != unavailable:
                    log.error("%s: waiting for the database: %s", self.name, err)
                unavailable = err.reason
                more = False
            except Exception:  # a worker must outlive a bad moment of the database
                log.exception("%s: a pass failed; trying again shortly", self.name)
                more = False
            if self._stop.is_set():
                return
            if not more:
                self._wake.wait(self.idle_seconds)
                self._wake.clear()
