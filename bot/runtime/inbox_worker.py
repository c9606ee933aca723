"""The inbox worker: handles stored messages in the order they came, after the platform has
had its quick answer. A message stored but not handled when the process stopped is handled at
the next start; on PostgreSQL several processes may share the work (each message is claimed)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from bot.config import Config
from bot.runtime.background import BackgroundLoop
from bot.services.sheet_links import SheetLinks
from bot.storage.db import transaction
from bot.storage.inbox import waiting
from handlers.conversation import process

log = logging.getLogger(__name__)


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
        quiet_seconds: float = 0.02,
        longest_wait_seconds: float = 2.0,
        takes_turn: Callable[[], bool] = lambda: True,
        links: SheetLinks | None = None,
    ) -> None:
        super().__init__(idle_seconds)
        self.engine = engine
        self.config = config
        self.platforms = platforms
        self.links = links  # the sheet's signed links (表格), None when not set up
        self.on_handled = on_handled
        # with several processes, one handles the inbox, so a chat's messages keep their order
        self.takes_turn = takes_turn
        # While messages pour in, answering the platform comes first (Slack retries after 3 s,
        # WeCom after 5 s): handling waits for a quiet moment, but never longer than this.
        self.quiet_seconds = quiet_seconds
        self.longest_wait_seconds = longest_wait_seconds
        self._last_arrival = 0.0
        self._idle = threading.Event()

    def wake(self) -> None:
        """A message was stored: handle it now rather than at the next tick."""
        self._last_arrival = time.monotonic()
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
            with transaction(self.engine, read_only=True) as session:
                ids = waiting(session)
            if not ids:
                return handled
            waited_since = time.monotonic()
            for inbox_id in ids:
                self._let_arrivals_go_first(waited_since)
                if process(self.engine, self.config, inbox_id, self.platforms, self.links):
                    handled += 1
            self.on_handled()

    def _let_arrivals_go_first(self, waited_since: float) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            if now - self._last_arrival >= self.quiet_seconds:
                return
            if now - waited_since >= self.longest_wait_seconds:
                return
            self._stop.wait(self.quiet_seconds)
