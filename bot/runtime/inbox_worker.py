"""The inbox worker: handles stored messages after the platform has had its quick answer, while
others still arrive. Each pass takes the oldest waiting message of many chats and handles them in
one transaction, so a chat's messages go in order and different chats share the commits. A
message stored but not handled when the process stopped is handled at the next start; on
PostgreSQL every process handles (a chat's next message is locked by the one handling it)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from bot.config import Config
from bot.runtime.background import BackgroundLoop
from bot.services.sheet_links import SheetLinks
from bot.storage.db import is_sqlite, transaction
from bot.storage.inbox import waiting
from handlers.conversation import ARRIVING, process_batch

log = logging.getLogger(__name__)

SWITCH_INTERVAL_SECONDS = 0.0005
# Chats' messages taken a batch. On PostgreSQL each is a row lock, written like a change, and
# while messages arrive a batch ends after a few: locking 50 to handle 5 cost PostgreSQL more
# than the messages themselves. SQLite locks the file, not rows.
SQLITE_BATCH, POSTGRES_BATCH = 50, 10
# The workers running in this process, and the switch interval from before the first started:
# it is put back when the last stops, so a process that stops handling is as it was.
_running: list[InboxWorker] = []
_interval_before: list[float] = []
_switching = threading.Lock()


class InboxWorker(BackgroundLoop):
    """One thread that handles waiting inbox messages, woken by each new one; on `stop`, what
    was accepted already is handled first."""

    name = "inbox"

    def __init__(
        self,
        engine: Engine,
        config: Config,
        platforms: frozenset[str],
        on_handled: Callable[[], None] = lambda: None,
        idle_seconds: float = 2.0,
        batch: int | None = None,
        batch_seconds: float = 0.05,
        arrivals_seconds: float = 0.02,
        takes_turn: Callable[[], bool] = lambda: True,
        links: SheetLinks | None = None,
    ) -> None:
        super().__init__(idle_seconds)
        self.engine = engine
        self.config = config
        self.platforms = platforms
        self.links = links  # the sheet's signed links (表格), None when not set up
        self.on_handled = on_handled
        self.takes_turn = takes_turn
        # Up to `batch` chats' messages in one transaction, for at most about `batch_seconds`:
        # on SQLite the platforms' quick answers wait for the write lock while it is held.
        if batch is None:
            batch = SQLITE_BATCH if is_sqlite(engine) else POSTGRES_BATCH
        self.batch = batch
        self.batch_seconds = batch_seconds
        self.arrivals_seconds = arrivals_seconds
        self._idle = threading.Event()

    def start(self) -> None:
        """Handle in a background thread until `stop`, beside the platforms' requests."""
        # A request thread waits for the interpreter after each read, write and query; while
        # this thread handles, Python's default 5 ms switch interval would make each wait long.
        with _switching:
            if not _running:
                _interval_before[:] = [sys.getswitchinterval()]
            _running.append(self)
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS))
        super().start()

    def stop(self) -> None:
        """Stop (see BackgroundLoop.stop), and put the switch interval back when this was the
        last worker running."""
        super().stop()
        with _switching:
            if self in _running:
                _running.remove(self)
            if not _running and _interval_before:
                sys.setswitchinterval(_interval_before.pop())

    def wake(self) -> None:
        """A message was stored: handle it now rather than at the next tick."""
        self._idle.clear()
        super().wake()

    def pass_once(self) -> bool:
        """Handle every waiting message; then it is idle until woken."""
        self.run_once()
        self._idle.set()
        return False

    def wait_until_idle(self, timeout: float = 10) -> bool:
        """Block until every stored message is handled (or `timeout` seconds pass)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._idle.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
                with transaction(self.engine, read_only=True) as session:
                    if not waiting(session, limit=1):
                        return True
                self.wake()
        return False

    def run_once(self) -> int:
        """Handle every waiting message once; how many were handled here."""
        handled = 0
        if not self.takes_turn():
            return handled
        while True:
            done = process_batch(self.engine, self.config, self.platforms, self.links,
                                 self.batch, self.batch_seconds)  # fmt: skip
            if not done:
                return handled
            handled += done
            self.on_handled()
            self._let_arrivals_go_first()

    def _let_arrivals_go_first(self) -> None:
        """Requests storing a message take the write lock before the next batch (a lock is not
        fair: this thread would take it again first), for a few milliseconds at most."""
        waited = time.monotonic()
        while ARRIVING.count and time.monotonic() - waited < self.arrivals_seconds:
            time.sleep(0.001)
