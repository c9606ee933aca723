"""Scheduled reviews: one apscheduler job per agreement, every `review_every_days` at its
`review_time`, in the agreement's time zone.

The job store lives in the bot's own database, so a review that fell due while the bot was down
runs once (coalesced) at the next start. On PostgreSQL several bot processes may run; only the
one holding an advisory lock runs the scheduler, and another takes over when it stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, text

from bot.config import AgreementConfig
from bot.db import DEFERRED, transaction
from bot.outbox import platforms_on
from bot.reminder_service import post_reminders
from bot.review_service import review
from bot.runtime import Runtime
from bot.settlement_service import post_statements

log = logging.getLogger(__name__)

JOB_PREFIX = "review:"
SETTLE_PREFIX = "settle:"
REMIND_PREFIX = "remind:"
LEADER_LOCK_KEY = 0x564D4903
# Reviews fall on the same days across restarts: every R days counted from this day.
SCHEDULE_EPOCH = date(2026, 1, 1)

_active: Runtime | None = None  # what the scheduled jobs review (one scheduler per process)


def _run_for(agreement_id: str, job: str, work: Callable[..., object]) -> object:
    """Run one agreement's job on the active runtime, in one transaction, as of now."""
    runtime = _active
    if runtime is None or runtime.config.agreement(agreement_id) is None:
        log.warning("%s of %s skipped: agreement not loaded", job, agreement_id)
        return None
    with transaction(runtime.engine) as session:
        return work(
            session,
            runtime.config,
            datetime.now(UTC),
            agreement_ids=[agreement_id],
            platforms=platforms_on(),
        )


def run_scheduled_review(agreement_id: str) -> None:
    """The job: review one agreement now, as `vmi-bot check` would."""
    results = _run_for(agreement_id, "scheduled review", review) or []
    proposed = [r for r in results if r.decision.action in ("propose", "update")]  # type: ignore[attr-defined]
    log.info("scheduled review of %s: %d proposal(s) made or resized", agreement_id, len(proposed))


def run_scheduled_settlement(agreement_id: str) -> None:
    """The job: post the agreement's settlement statement and monthly review to its group."""
    _run_for(agreement_id, "settlement", post_statements)


def run_scheduled_reminders(agreement_id: str) -> None:
    """The job: post the reminders due now (each occasion once)."""
    _run_for(agreement_id, "reminders", post_reminders)


class EveryNDays(BaseTrigger):
    """Every `days` calendar days at `at` on the local clock, counted from SCHEDULE_EPOCH.

    apscheduler's IntervalTrigger adds fixed seconds, so across a daylight-saving change an
    08:00 review would move to 09:00; this one counts days on the calendar instead.
    """

    def __init__(self, days: int, at: time, timezone: ZoneInfo) -> None:
        self.days = days
        self.at = at
        self.timezone = timezone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first review time after the previous one, or at or after `now` for a new job."""
        after = previous_fire_time or now
        elapsed = (after.astimezone(self.timezone).date() - SCHEDULE_EPOCH).days
        k = max(0, elapsed // self.days)
        while True:
            fire = self._fire_time(k)
            if fire > after or (previous_fire_time is None and fire == now):
                return fire
            k += 1

    def _fire_time(self, k: int) -> datetime:
        day = SCHEDULE_EPOCH + timedelta(days=k * self.days)
        return datetime.combine(day, self.at, tzinfo=self.timezone)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EveryNDays) and (self.days, self.at, str(self.timezone)) == (
            other.days,
            other.at,
            str(other.timezone),
        )

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"every {self.days} days at {self.at:%H:%M} {self.timezone}"

    def __repr__(self) -> str:
        return f"<EveryNDays ({self})>"


def settlement_trigger(agreement: AgreementConfig) -> CronTrigger:
    """At 09:00 on the settlement day (25th), in the agreement's time zone."""
    return CronTrigger(day=agreement.terms.settlement_day, hour=9, timezone=agreement.tz)


def _same_schedule(stored: BaseTrigger, wanted: BaseTrigger) -> bool:
    if isinstance(wanted, EveryNDays):
        return stored == wanted
    return (str(stored), str(getattr(stored, "timezone", ""))) == (
        str(wanted),
        str(getattr(wanted, "timezone", "")),
    )


def review_trigger(agreement: AgreementConfig) -> EveryNDays:
    """Every `review_every_days` at `review_time` in the agreement's time zone."""
    return EveryNDays(agreement.terms.review_every_days, agreement.review_time, agreement.tz)


class ReviewScheduler:
    """apscheduler 3 in this process, its jobs stored in the bot's database."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.scheduler = BackgroundScheduler(
            # The job store's transactions are single statements: a deferred BEGIN is enough,
            # and its polling then never holds up the bot's writers.
            jobstores={
                "default": SQLAlchemyJobStore(
                    engine=runtime.engine.execution_options(**{DEFERRED: True})
                )
            },
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )

    def start(self) -> None:
        """Start; jobs that fell due while no scheduler ran are run once now."""
        global _active
        _active = self.runtime
        # Paused first: the jobs are brought in line with the configuration before any runs.
        self.scheduler.start(paused=True)
        self.sync_jobs()
        self.scheduler.resume()

    def sync_jobs(self) -> None:
        """Per agreement, its review and its settlement day; a job whose schedule did not
        change keeps its next run time (and so a run missed while the bot was down)."""
        wanted: dict[str, tuple[str, BaseTrigger, str]] = {}
        for a in self.runtime.config.agreements:
            wanted[JOB_PREFIX + a.id] = ("run_scheduled_review", review_trigger(a), a.id)
            wanted[SETTLE_PREFIX + a.id] = ("run_scheduled_settlement", settlement_trigger(a), a.id)
            # hourly: each reminder knows its own hour (10:00 counts, Friday 16:00 plans, …)
            hourly = CronTrigger(minute=5, timezone=a.tz)
            wanted[REMIND_PREFIX + a.id] = ("run_scheduled_reminders", hourly, a.id)
        for job in self.scheduler.get_jobs():
            if (
                job.id.startswith((JOB_PREFIX, SETTLE_PREFIX, REMIND_PREFIX))
                and job.id not in wanted
            ):
                job.remove()
        for job_id, (function, trigger, agreement_id) in wanted.items():
            job = self.scheduler.get_job(job_id)
            if job is not None and _same_schedule(job.trigger, trigger):
                continue
            self.scheduler.add_job(
                f"bot.scheduler:{function}",
                trigger=trigger,
                args=[agreement_id],
                id=job_id,
                name=job_id,
                replace_existing=True,
            )

    def next_runs(self) -> dict[str, datetime | None]:
        """When each agreement is reviewed next."""
        return {
            job.id.removeprefix(JOB_PREFIX): job.next_run_time
            for job in self.scheduler.get_jobs()
            if job.id.startswith(JOB_PREFIX)
        }

    def stop(self) -> None:
        """Stop, waiting for a running review to finish."""
        global _active
        if self.scheduler.running:
            # apscheduler 3 processes due jobs once more after shutdown() and, its executor
            # gone, drops them while moving their next run on: a review due now would be
            # lost. Detaching the store first leaves such a review for the next start.
            self.scheduler.pause()
            self.scheduler.remove_jobstore("default", shutdown=False)  # it would dispose our engine
            self.scheduler.shutdown(wait=True)
        if _active is self.runtime:
            _active = None


class SchedulerLeader:
    """Runs the scheduler only while this process holds the leader lock (PostgreSQL), else waits.

    On SQLite there is one process per database file, so it leads at once.
    """

    def __init__(
        self,
        runtime: Runtime,
        poll_seconds: float = 5.0,
        make_scheduler: Callable[[Runtime], ReviewScheduler] = ReviewScheduler,
    ) -> None:
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.make_scheduler = make_scheduler
        self.scheduler: ReviewScheduler | None = None
        self._stop = threading.Event()
        self._leading = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        """This process runs the scheduler now."""
        return self._leading.is_set()

    def wait_until_leading(self, timeout: float) -> bool:
        """Block until this process leads, or `timeout` seconds pass."""
        return self._leading.wait(timeout)

    def start(self) -> None:
        """Lead now (SQLite), or start trying to become the leader in the background."""
        if self.runtime.engine.dialect.name != "postgresql":
            self._lead()
            return
        self._thread = threading.Thread(target=self._campaign, name="scheduler-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the scheduler if leading and give up the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._step_down()

    def _lead(self) -> None:
        self.scheduler = self.make_scheduler(self.runtime)
        self.scheduler.start()
        self._leading.set()
        log.info("this process runs the review scheduler")

    def _step_down(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        self._leading.clear()

    def _campaign(self) -> None:
        while not self._stop.is_set():
            try:
                with self.runtime.engine.connect() as conn:
                    if self._try_lock(conn):
                        self._hold(conn)
            except Exception:  # a lost connection must not end the campaign
                log.exception("scheduler leader lock lost; trying again")
            self._step_down()
            self._stop.wait(self.poll_seconds)

    @staticmethod
    def _try_lock(conn: Connection) -> bool:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK_KEY})
        conn.commit()
        return bool(got.scalar())

    def _hold(self, conn: Connection) -> None:
        try:
            self._lead()
            while not self._stop.wait(self.poll_seconds):
                conn.execute(text("SELECT 1"))  # the lock lives as long as this session
                conn.commit()
        finally:
            self._step_down()
            # Ending the server session is the one sure way to drop the lock, even when the
            # connection is broken: the pool must never hand out a connection still holding it.
            conn.invalidate()
