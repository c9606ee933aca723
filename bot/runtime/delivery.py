"""Delivery: outbox rows go out through each platform's sender, in order per chat, once.

A row is claimed (state `sending`, with the claimer's host, pid and process start time), sent
outside any transaction, then marked `sent` with the platform's reference, or given a later
`next_attempt_at` (rate limit, server error, network), or marked `failed` with the error when
the platform says it never will work.

A row left `sending` by a process that died is taken up again: at once when the claimer was a
process on this host that is no longer running (a restart after a crash), else once its lease
ran out (`STALE_CLAIM`, renewed before each send, so it only has to cover one send). Such a
row, and one whose last try ended in a network error, may have reached the platform: its
sender is told (`Outgoing.maybe_sent`) and looks before sending again where the platform lets
it. Delivery is at least once and in order per chat.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import (
    CursorResult,
    Engine,
    Integer,
    Select,
    Update,
    bindparam,
    or_,
    select,
    update,
)
from sqlmodel import col

from bot.runtime.background import BackgroundLoop
from bot.storage.chat_firsts import chat_firsts
from bot.storage.db import plain, transaction
from bot.storage.tables import OutboxRow
from messages.cards import Card

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
MAX_ATTEMPTS = 12  # about 40 minutes of trying before a message is given up
# A claim's lease: longer than one send takes (a look-up and a post, 15 s each at most), so a
# live claimer is never overtaken; a dead one on this host is not waited for at all.
STALE_CLAIM = timedelta(seconds=90)
# A claim this young still covers a whole send: it is renewed (one more write) only when older.
RENEW_AFTER = timedelta(seconds=30)
Clock = Callable[[], datetime]


# How a sender's RetryLater says the platform may have taken the message before the connection
# failed (a timeout after the request went out): the next try looks before sending again.
UNSURE = "network: "


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
    key: str = ""  # the row's own mark on the platform, where it keeps one (Slack's metadata)
    maybe_sent: bool = False  # an earlier try may have reached the platform: look first


class Sender(Protocol):
    """One platform's way of sending a neutral card; returns the platform's reference."""

    def send(self, message: Outgoing) -> str: ...


def ready(sender: Sender) -> bool:
    """A sender whose platform is reached through a connection one process holds (WeCom's
    robot) says whether this process holds it now; its rows wait until it does."""
    holds = getattr(sender, "ready", None)
    return bool(holds()) if callable(holds) else True


class Queued(Protocol):
    """An outbox row as far as `delivery_key` reads it."""

    @property
    def id(self) -> int | None: ...

    @property
    def created_at(self) -> datetime: ...


def delivery_key(row: Queued) -> str:
    """What marks a row's message on the platform: its id and when it was queued (ids start
    again in a new database; the time tells them apart)."""
    created = row.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{row.id}-{created}"


@dataclass(frozen=True)
class Claimed:
    """An outbox row claimed by this process, as a pass reads it: plain values, cheaper to
    build than the session's ORM objects (a pass builds one for every message it sends)."""

    id: int
    platform: str
    chat: str
    mode: str
    target_ref: str
    recipient: str
    card: str
    attempts: int
    last_error: str
    created_at: datetime
    claimed_at: datetime  # when this process claimed it
    maybe_sent: bool  # it may have reached the platform before (see `Outgoing.maybe_sent`)


def _read_start(pid: int) -> str | None:
    """When process `pid` started, as Linux counts it (clock ticks since boot); None without
    /proc or without that process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command's name


@cache
def _started_here() -> str:
    return _read_start(os.getpid()) or f"t{time.time():.0f}"


def this_process() -> str:
    """Who claims a row: "host pid start", unique to this run of this process."""
    return f"{socket.gethostname()} {os.getpid()} {_started_here()}"


def claimer_is_gone(claimer: str) -> bool:
    """True when `claimer` was a process on this host that is not running any more: its claims
    are dead. A claimer elsewhere, or one that cannot be told, is taken to be alive."""
    try:
        host, pid_text, started = claimer.split(" ")
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine sharing PostgreSQL: its lease decides
    if pid == os.getpid():
        return started != _started_here()
    if Path("/proc").is_dir():
        return _read_start(pid) != started  # none such, or the pid taken by a later process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter after the given number of failed attempts."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


# built once: every pass of delivery runs them
_CLAIMERS = select(col(OutboxRow.claimed_by)).where(col(OutboxRow.state) == "sending").distinct()
_TAKE = (
    update(OutboxRow)
    .where(col(OutboxRow.id).in_(bindparam("ids", expanding=True)))
    .values(state="sending", claimed_at=bindparam("now"), claimed_by=bindparam("me"))
)


# what a pass reads of a row it claims (`Claimed`), and of its earlier claim
_CLAIMED: list[Any] = [
    col(OutboxRow.id), col(OutboxRow.platform), col(OutboxRow.chat), col(OutboxRow.mode),
    col(OutboxRow.target_ref), col(OutboxRow.recipient), col(OutboxRow.card),
    col(OutboxRow.attempts), col(OutboxRow.last_error), col(OutboxRow.created_at),
    col(OutboxRow.state), col(OutboxRow.claimed_by),
]  # fmt: skip


# a page of unsent rows on the ready platforms (see `chat_firsts`); a row another process is
# sending is its chat's first still: the chat waits for it
_UNSENT_PAGE = (
    select(col(OutboxRow.id), col(OutboxRow.platform), col(OutboxRow.chat))
    .where(
        col(OutboxRow.state).in_(("pending", "sending")),
        col(OutboxRow.platform).in_(bindparam("platforms", expanding=True)),
        col(OutboxRow.id) > bindparam("after"),
    )
    .order_by(col(OutboxRow.id))
    .limit(bindparam("page", type_=Integer))
)


@cache
def _claimable(some_gone: bool) -> Select[Any]:
    """Of chats' first unsent rows (`candidates`), those that may go now: pending and due, or
    claimed by a process that is gone (`gone`) or whose lease ran out (`stale`)."""
    next_at = col(OutboxRow.next_attempt_at)
    sending = col(OutboxRow.state) == "sending"
    may_go = or_(
        (col(OutboxRow.state) == "pending") & (next_at.is_(None) | (next_at <= bindparam("now"))),
        sending & (col(OutboxRow.claimed_at) < bindparam("stale")),
    )
    if some_gone:
        may_go = or_(
            may_go, sending & col(OutboxRow.claimed_by).in_(bindparam("gone", expanding=True))
        )
    return (
        select(*_CLAIMED)
        .where(col(OutboxRow.id).in_(bindparam("candidates", expanding=True)), may_go)
        .order_by(col(OutboxRow.id))
        .limit(bindparam("most"))
        .with_for_update(skip_locked=True, of=OutboxRow)
    )


@cache
def _finish_statement(columns: tuple[str, ...]) -> Update:
    """What sends came to, row by row, for rows that changed these columns."""
    return (
        update(OutboxRow)
        .where(col(OutboxRow.id) == bindparam("row"))
        .values({name: bindparam(f"new_{name}") for name in columns})
    )


def _finish_params(row_id: int, values: dict[str, object]) -> dict[str, object]:
    """The parameters of `_finish_statement` for one row's new values."""
    return {"row": row_id, **{f"new_{name}": value for name, value in values.items()}}


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
        parallel: int = 4,
    ) -> None:
        super().__init__(idle_seconds)
        self.engine = engine
        self.senders = senders
        self.clock = clock
        self.parallel = parallel  # chats whose messages are sent at the same time
        self._finished: list[tuple[int, dict[str, object]]] | None = None
        self._pool: ThreadPoolExecutor | None = None  # the sending threads, kept between passes

    def stop(self) -> None:
        """Finish the pass in hand, then let the sending threads go."""
        super().stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def pass_once(self) -> bool:
        """Send what is due; True when something went (more may be waiting)."""
        return self.run_once() > 0

    def run_once(self, limit: int = 50) -> int:
        """One pass: the oldest waiting message of each chat that may send now; how many went.

        Only a chat's oldest message is ever in flight, so a chat's order holds even with
        several processes delivering, and the chats' messages go out side by side (`senders`
        threads); a pass that sent something is followed by another.
        """
        claimed = self._claim(limit)
        if len(claimed) <= 1 or self.parallel <= 1:
            return sum(self._send_claimed(row) for row in claimed)
        # what each send came to is written for all of them at once, in one transaction
        self._finished = []
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.parallel, "delivery-send")
            return sum(self._pool.map(self._send_claimed, claimed))
        finally:
            finished, self._finished = self._finished, None
            # one statement for the rows that changed the same columns (most went out: "sent")
            alike: dict[tuple[str, ...], list[dict[str, object]]] = {}
            for row_id, values in finished:
                alike.setdefault(tuple(sorted(values)), []).append(_finish_params(row_id, values))
            with transaction(self.engine) as session:
                for columns, rows in alike.items():
                    session.connection().execute(_finish_statement(columns), rows)

    def _send_claimed(self, row: Claimed) -> bool:
        if self._stop.is_set():
            self._release(row.id)
            return False
        fresh = self.clock() - row.claimed_at < RENEW_AFTER
        if not fresh and not self._renew(row.id):
            return False  # its lease ran out while others were sent, and another took it
        return self._deliver(row)

    def _claim(self, limit: int) -> list[Claimed]:
        """Claim the rows that may go now."""
        now = self.clock()
        me = this_process()
        ready_platforms = [name for name, sender in self.senders.items() if ready(sender)]
        if not ready_platforms:
            return []
        with transaction(self.engine) as session:
            connection = plain(session)
            claimers = connection.scalars(_CLAIMERS).all()
            gone = [c for c in claimers if c and c != me and claimer_is_gone(c)]
            rows: list[Any] = []
            on_ready = {"platforms": ready_platforms}
            for candidates in chat_firsts(connection, _UNSENT_PAGE, on_ready, limit):
                found = connection.execute(
                    _claimable(bool(gone)),
                    {"candidates": candidates, "now": now, "stale": now - STALE_CLAIM,
                     "gone": gone, "most": limit - len(rows)},
                )  # fmt: skip
                rows.extend(found.all())
                if len(rows) == limit:
                    break
            if not rows:
                return []
            connection.execute(_TAKE, {"ids": [row.id for row in rows], "now": now, "me": me})
            claimed = []
            for row in rows:
                if row.state == "sending":
                    cut_off = (row.id, row.platform, row.chat, row.claimed_by or "unknown")
                    log.warning("outbox %s to %s %s: its send by %s was cut off", *cut_off)
                claimed.append(
                    Claimed(row.id, row.platform, row.chat, row.mode, row.target_ref,
                            row.recipient, row.card, row.attempts, row.last_error,
                            row.created_at, claimed_at=now,
                            maybe_sent=row.state == "sending" or row.last_error.startswith(UNSURE))
                )  # fmt: skip
            return claimed

    def _renew(self, row_id: int) -> bool:
        """Start the lease again just before the send: True while the row is still ours."""
        with transaction(self.engine) as session:
            renewed = session.execute(
                update(OutboxRow)
                .where(
                    col(OutboxRow.id) == row_id,
                    col(OutboxRow.state) == "sending",
                    col(OutboxRow.claimed_by) == this_process(),
                )
                .values(claimed_at=self.clock())
            )
            return cast("CursorResult[Any]", renewed).rowcount == 1

    def _deliver(self, row: Claimed) -> bool:
        """Send one row; True when it is done with (sent, or failed for good)."""
        try:
            card = Card.from_json(row.card)
            message = Outgoing(row.id, row.chat, row.mode, row.target_ref, row.recipient, card,
                               delivery_key(row), row.maybe_sent)  # fmt: skip
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

    def _retry_or_give_up(self, row: Claimed, later: RetryLater) -> bool:
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
        values: dict[str, object] = {
            "state": state,
            "attempts": attempts,
            "claimed_at": None,
            "claimed_by": "",
        }
        if error:
            values["last_error"] = error[:500]
        if ref:
            values["platform_ref"] = ref
        if state == "sent":
            values["sent_at"] = now
        if wait is not None:
            values["next_attempt_at"] = now + timedelta(seconds=wait)
        if self._finished is not None:  # a pass sending side by side writes them together
            self._finished.append((row_id, values))
            return
        with transaction(self.engine) as session:
            session.connection().execute(
                _finish_statement(tuple(sorted(values))), [_finish_params(row_id, values)]
            )

    def _release(self, row_id: int) -> None:
        with transaction(self.engine) as session:
            session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == row_id, col(OutboxRow.state) == "sending")
                .values(state="pending", claimed_at=None, claimed_by="")
            )
