"""Delivery: outbox rows go out through each platform's sender, in order per chat, once.

A row is claimed (state `sending`), sent outside any transaction, then marked `sent` with the
platform's reference, or given a later `next_attempt_at` (rate limit, server error, network), or
marked `failed` with the error when the platform says it never will work. A row left `sending`
by a process that died is taken up again after a while, so nothing is lost on a restart.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, func, or_, select, update
from sqlmodel import col

from bot.runtime.background import BackgroundLoop
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from messages.cards import Card

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
MAX_ATTEMPTS = 12  # about 40 minutes of trying before a message is given up
STALE_CLAIM = timedelta(minutes=5)
Clock = Callable[[], datetime]


class RetryLater(Exception):
    """The platform could not take it now; `after` seconds when it said so (429 Retry-After)."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class NeverDeliverable(Exception):
    """The platform will never take it (no such channel, bot not in it): mark it failed."""


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of an outbox row."""

    id: int
    chat: str
    mode: str
    target_ref: str
    recipient: str
    card: Card


class Sender(Protocol):
    """One platform's way of sending a neutral card; returns the platform's reference."""

    def send(self, message: Outgoing) -> str: ...


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter after the given number of failed attempts."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


class DeliveryWorker(BackgroundLoop):
    """Sends pending outbox rows for the platforms it has senders for; on `stop`, what is left
    waits in the outbox for the next start."""

    name = "delivery"

    def __init__(
        self,
        engine: Engine,
        senders: dict[str, Sender],
        clock: Clock = lambda: datetime.now(UTC),
        idle_seconds: float = 1.0,
    ) -> None:
        super().__init__(idle_seconds)
        self.engine = engine
        self.senders = senders
        self.clock = clock

    def pass_once(self) -> bool:
        """Send what is due; True when something went (more may be waiting)."""
        return self.run_once() > 0

    def run_once(self, limit: int = 50) -> int:
        """One pass: the oldest waiting message of each chat that may send now; how many went.

        Only a chat's oldest message is ever in flight, so a chat's order holds even with
        several processes delivering; a pass that sent something is followed by another.
        """
        sent = 0
        for row in self._claim(limit):
            if self._stop.is_set():
                assert row.id is not None  # a row read from the table has its key
                self._release(row.id)
                continue
            sent += self._deliver(row)
        return sent

    def _claim(self, limit: int) -> list[OutboxRow]:
        now = self.clock()
        unsent = (col(OutboxRow.state).in_(("pending", "sending")),)
        first = (
            select(
                col(OutboxRow.platform),
                col(OutboxRow.chat),
                func.min(col(OutboxRow.id)).label("first_id"),
            )
            .where(*unsent, col(OutboxRow.platform).in_(list(self.senders)))
            .group_by(col(OutboxRow.platform), col(OutboxRow.chat))
            .subquery("first")
        )
        next_at = col(OutboxRow.next_attempt_at)
        may_go = or_(
            (col(OutboxRow.state) == "pending") & (next_at.is_(None) | (next_at <= now)),
            (col(OutboxRow.state) == "sending") & (col(OutboxRow.claimed_at) < now - STALE_CLAIM),
        )
        with transaction(self.engine) as session:
            rows = session.scalars(
                select(OutboxRow)
                .join(first, col(OutboxRow.id) == first.c.first_id)
                .where(may_go)
                .order_by(col(OutboxRow.id))
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxRow)
            ).all()
            for row in rows:
                row.state, row.claimed_at = "sending", now
            return list(rows)

    def _deliver(self, row: OutboxRow) -> bool:
        """Send one row; True when it is done with (sent, or failed for good)."""
        assert row.id is not None  # a row read from the table has its key
        try:
            message = Outgoing(
                row.id, row.chat, row.mode, row.target_ref, row.recipient, Card.from_json(row.card)
            )
            ref = self.senders[row.platform].send(message)
        except RetryLater as later:
            return self._retry_or_give_up(row, later)
        except NeverDeliverable as never:
            self._finish(row.id, "failed", row.attempts + 1, error=str(never))
            log.error("outbox %s to %s %s failed: %s", row.id, row.platform, row.chat, never)
            return True
        except Exception as err:  # a fault of ours, e.g. a card that will not render
            log.exception("outbox %s to %s %s raised", row.id, row.platform, row.chat)
            return self._retry_or_give_up(row, RetryLater(f"{err.__class__.__name__}: {err}"))
        self._finish(row.id, "sent", row.attempts + 1, ref=ref)
        return True

    def _retry_or_give_up(self, row: OutboxRow, later: RetryLater) -> bool:
        assert row.id is not None  # a row read from the table has its key
        attempts = row.attempts + 1
        where = (row.id, row.platform, row.chat, later)
        if attempts >= MAX_ATTEMPTS:
            self._finish(row.id, "failed", attempts, error=f"gave up: {later}")
            log.error("outbox %s to %s %s given up: %s", *where)
            return True
        if attempts == 1:  # said once, not at every retry
            log.warning("outbox %s to %s %s not sent yet, will try again: %s", *where)
        wait = later.after if later.after is not None else backoff_seconds(attempts)
        self._finish(row.id, "pending", attempts, error=str(later), wait=wait)
        return False

    def _finish(
        self,
        row_id: int,
        state: str,
        attempts: int,
        *,
        error: str = "",
        ref: str = "",
        wait: float | None = None,
    ) -> None:
        now = self.clock()
        values: dict[str, object] = {"state": state, "attempts": attempts, "claimed_at": None}
        if error:
            values["last_error"] = error[:500]
        if ref:
            values["platform_ref"] = ref
        if state == "sent":
            values["sent_at"] = now
        if wait is not None:
            values["next_attempt_at"] = now + timedelta(seconds=wait)
        with transaction(self.engine) as session:
            session.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id).values(**values))

    def _release(self, row_id: int) -> None:
        with transaction(self.engine) as session:
            session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == row_id, col(OutboxRow.state) == "sending")
                .values(state="pending", claimed_at=None)
            )
