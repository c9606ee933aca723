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
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, text

from bot.config import AgreementConfig
from bot.runtime import jobs
from bot.runtime.context import Runtime
from bot.runtime.jobs import EveryNDays
from bot.services.terms import effective
from bot.storage.db import DEFERRED, transaction

log = logging.getLogger(__name__)

JOB_PREFIX = "review:"
SETTLE_PREFIX = "settle:"
REMIND_PREFIX = "remind:"
OVERSTOCK_PREFIX = "overstock:"
RETRO_PREFIX = "retro:"
PREFIXES = (JOB_PREFIX, SETTLE_PREFIX, REMIND_PREFIX, OVERSTOCK_PREFIX, RETRO_PREFIX)
LEADER_LOCK_KEY = 0x564D4903


def settlement_trigger(agreement: AgreementConfig) -> CronTrigger:
    """At 09:00 on the settlement day (25th), in the agreement's time zone."""
    return CronTrigger(day=agreement.terms.settlement_day, hour=9, timezone=agreement.tz)


def overstock_trigger(agreement: AgreementConfig) -> CronTrigger:
    """Daily at 09:30 in the agreement's time zone: after the morning count, before lunch."""
    return CronTrigger(hour=9, minute=30, timezone=agreement.tz)


def retro_trigger(agreement: AgreementConfig) -> CronTrigger:
    """At 09:30 on the settlement day, after the statement: the month's review and chart."""
    return CronTrigger(day=agreement.terms.settlement_day, hour=9, minute=30, timezone=agreement.tz)


def _same_schedule(stored: BaseTrigger, wanted: BaseTrigger) -> bool:
    if isinstance(wanted, EveryNDays):
        return bool(stored == wanted)  # already a bool: apscheduler's untyped trigger makes it Any
    return _shown(stored) == _shown(wanted)


def _shown(trigger: BaseTrigger) -> list[str]:
    """A trigger as text with its time zone(s), to tell whether a stored one changed."""
    parts = getattr(trigger, "triggers", None) or [trigger]
    return [str(trigger), *(str(getattr(part, "timezone", "")) for part in parts)]


def reminder_trigger(agreement: AgreementConfig) -> OrTrigger:
    """Every hour at :05 (a proposal waiting too long, a plan overdue), and at each reminder's
    configured time (`[agreements.reminders]`), in the agreement's time zone."""
    when, tz = agreement.terms.reminders, agreement.tz
    triggers = [CronTrigger(minute=5, timezone=tz)]
    if when.count:
        triggers.append(
            CronTrigger(hour=when.count_at.hour, minute=when.count_at.minute, timezone=tz)
        )
    if when.weekly_plan:
        at = when.weekly_plan_at
        day = when.weekly_plan_weekday
        triggers.append(CronTrigger(day_of_week=day, hour=at.hour, minute=at.minute, timezone=tz))
    if when.monthly_plan:
        at, day_of_month = when.monthly_plan_at, when.monthly_plan_day
        triggers.append(CronTrigger(day=day_of_month, hour=at.hour, minute=at.minute, timezone=tz))
    return OrTrigger(triggers)


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
        jobs.activate(self.runtime, self.sync_jobs)
        # Paused first: the jobs are brought in line with the configuration before any runs.
        self.scheduler.start(paused=True)
        self.sync_jobs()
        self.scheduler.resume()

    def sync_jobs(self) -> None:
        """Per agreement, its review, its settlement day, its reminders and its daily
        overstock check; a job whose schedule did not
        change keeps its next run time (and so a run missed while the bot was down)."""
        wanted: dict[str, tuple[str, BaseTrigger, str]] = {}
        with transaction(self.runtime.engine) as session:  # reminder times agreed in chat
            config = effective(self.runtime.config, session)
        for a in config.agreements:
            wanted[JOB_PREFIX + a.id] = ("run_scheduled_review", review_trigger(a), a.id)
            wanted[SETTLE_PREFIX + a.id] = ("run_scheduled_settlement", settlement_trigger(a), a.id)
            wanted[RETRO_PREFIX + a.id] = ("run_scheduled_retro", retro_trigger(a), a.id)
            # each reminder's own time (10:00 counts, Friday 16:00 plans, …), and hourly
            wanted[REMIND_PREFIX + a.id] = ("run_scheduled_reminders", reminder_trigger(a), a.id)
            wanted[OVERSTOCK_PREFIX + a.id] = (
                "run_scheduled_overstock",
                overstock_trigger(a),
                a.id,
            )
        for job in self.scheduler.get_jobs():
            if job.id.startswith(PREFIXES) and job.id not in wanted:
                job.remove()
        for job_id, (function, trigger, agreement_id) in wanted.items():
            job = self.scheduler.get_job(job_id)
            ref = f"{jobs.__name__}:{function}"
            if job is not None and _same_schedule(job.trigger, trigger):
                if job.func_ref != ref:  # stored by an earlier layout: same run, new address
                    job.modify(func=ref)
                continue
            if job is not None and job_id.startswith(REMIND_PREFIX) and job.next_run_time:
                # new reminder times: a run missed while the bot was down still comes first
                first = trigger.get_next_fire_time(None, datetime.now(UTC))
                due = min(job.next_run_time, first) if first else job.next_run_time
                job.modify(func=ref, trigger=trigger, next_run_time=due)
                continue
            self.scheduler.add_job(
                ref,
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
        if self.scheduler.running:
            # apscheduler 3 processes due jobs once more after shutdown() and, its executor
            # gone, drops them while moving their next run on: a review due now would be
            # lost. Detaching the store first leaves such a review for the next start.
            self.scheduler.pause()
            self.scheduler.remove_jobstore("default", shutdown=False)  # it would dispose our engine
            self.scheduler.shutdown(wait=True)
        if jobs.active() is self.runtime:
            jobs.activate(None)


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
