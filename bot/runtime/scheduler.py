"""Scheduled work: one apscheduler job per kind and time slot, running every agreement due at
it (reviews every `review_every_days` at `review_time`, in the agreement's time zone, …).

The job store lives in the bot's own database, so a review that fell due while the bot was down
runs once (coalesced) at the next start. On PostgreSQL several bot processes may run; only the
one holding an advisory lock runs the scheduler, and another takes over when it stops.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Connection, text

from bot.config import AgreementConfig
from bot.runtime import jobs
from bot.runtime.context import Runtime
from bot.runtime.jobs import EveryNDays
from bot.services.terms import effective
from bot.storage.amendments import applied
from bot.storage.db import DEFERRED, transaction

log = logging.getLogger(__name__)

JOB_PREFIX = "review:"
SETTLE_PREFIX = "settle:"
REMIND_PREFIX = "remind:"
OVERSTOCK_PREFIX = "overstock:"
RETRO_PREFIX = "retro:"
SLOT_MARK = "@"  # a slot's job: review@<hash of its schedule>
PREFIXES = tuple(
    kind + mark for kind in ("review", "settle", "remind", "overstock", "retro") for mark in ":@"
)
SLOT_REF = f"{jobs.__name__}:run_slot"
CATCH_UP_REFS = {  # one agreement's missed run
    "review": f"{jobs.__name__}:run_scheduled_review",
    "settle": f"{jobs.__name__}:run_scheduled_settlement",
    "retro": f"{jobs.__name__}:run_scheduled_retro",
    "remind": f"{jobs.__name__}:run_scheduled_reminders",
    "overstock": f"{jobs.__name__}:run_scheduled_overstock",
}
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


def _reminder_slot(agreement: AgreementConfig) -> Hashable:
    when = agreement.terms.reminders
    return (
        agreement.timezone,
        when.count and when.count_at,
        when.weekly_plan and (when.weekly_plan_weekday, when.weekly_plan_at),
        when.monthly_plan and (when.monthly_plan_day, when.monthly_plan_at),
    )


# Per kind: the job id's prefix, the agreement's trigger, and what fixes that trigger (cheap to
# compare, so 10,000 agreements make their triggers once per slot, not once each).
KINDS: dict[str, tuple[Callable[[AgreementConfig], BaseTrigger], Callable[..., Hashable]]] = {
    "review": (
        review_trigger,
        lambda a: (a.terms.review_every_days, a.review_time, a.timezone),
    ),
    "settle": (settlement_trigger, lambda a: (a.terms.settlement_day, a.timezone)),
    "retro": (retro_trigger, lambda a: (a.terms.settlement_day, a.timezone)),
    "remind": (reminder_trigger, _reminder_slot),
    "overstock": (overstock_trigger, lambda a: a.timezone),
}


@dataclass
class Slot:
    """One kind of work at one schedule, and the agreements (ids, in file order) due at it."""

    kind: str
    trigger: BaseTrigger
    shown: str
    members: list[str] = field(default_factory=list)


def _slots(agreements: Iterable[AgreementConfig]) -> dict[str, Slot]:
    """Every wanted slot by its job id."""
    slots: dict[str, Slot] = {}
    made: dict[tuple[str, Hashable], Slot] = {}
    for agreement in agreements:
        for kind, (trigger_of, slot_of) in KINDS.items():
            key = (kind, slot_of(agreement))
            slot = made.get(key)
            if slot is None:
                trigger = trigger_of(agreement)
                shown = " | ".join(_shown(trigger))
                job_id = f"{kind}{SLOT_MARK}{hashlib.sha1(shown.encode()).hexdigest()[:16]}"
                slot = made[key] = slots.setdefault(job_id, Slot(kind, trigger, shown))
            slot.members.append(agreement.id)
    return slots


def _catch_up_id(kind: str, agreement_id: str) -> str:
    """A missed run of one agreement: the per-agreement layout's id (`review:plant-6205`)."""
    return f"{kind}:{agreement_id}"


def _parse_id(job_id: str) -> tuple[str, bool, str]:
    """A job id as (kind, whether it is a slot's, the agreement of a per-agreement job)."""
    kind, mark, _ = job_id.partition(SLOT_MARK)
    if mark:
        return kind, True, ""
    kind, _, agreement_id = job_id.partition(":")
    return kind, False, agreement_id


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
        """One job per kind and time slot, running every agreement due at it: reviews, the
        settlement day, the monthly review, reminders and the daily overstock check.

        A slot is a schedule (times, weekdays, time zone): agreements with the same one share
        its job. A job whose slot is still wanted keeps its next run time (and so a run missed
        while the bot was down) and only has its agreements brought up to date. An agreement
        that leaves a slot whose run is due (missed, not yet run) gets that run alone, once, as
        does each job of the per-agreement layout that was due; so one late agreement never
        makes the others of its slot run twice.
        """
        now = datetime.now(UTC)
        config = self.runtime.config
        with transaction(self.runtime.engine) as session:  # reminder times agreed in chat
            ids = [a.id for a in config.agreements]
            amended = {row.agreement_id for row, _ in applied(session, ids)}
            if amended:  # only these have terms other than the file's
                agreed = {a.id: a for a in effective(config.only(amended), session).agreements}
                agreements = tuple(agreed.get(a.id, a) for a in config.agreements)
                config = replace(config, agreements=agreements)
        wanted = _slots(config.agreements)
        catch_up: dict[str, tuple[str, str, datetime]] = {}  # job id -> kind, agreement, when
        loaded = {a.id for a in config.agreements}
        stored = {job.id: job for job in self.scheduler.get_jobs() if job.id.startswith(PREFIXES)}
        for job in stored.values():
            kind, is_slot, agreement_id = _parse_id(job.id)
            due = job.next_run_time is not None and job.next_run_time <= now
            if is_slot:  # a slot's job: its agreements that left it keep a due run
                members = wanted[job.id].members if job.id in wanted else []
                left = set(job.args[1]) - set(members) if len(job.args) > 1 else set()
                for gone in sorted(left & loaded if due else set()):
                    catch_up[_catch_up_id(kind, gone)] = (kind, gone, job.next_run_time)
                if job.id not in wanted:
                    job.remove()
                elif job.args != (kind, members) or job.func_ref != SLOT_REF:
                    job.modify(func=SLOT_REF, args=(kind, members))
                continue
            if isinstance(job.trigger, DateTrigger) and agreement_id in loaded:
                if job.func_ref != CATCH_UP_REFS[kind]:
                    job.modify(func=CATCH_UP_REFS[kind])
                continue  # a catch-up still to run
            # a job of the per-agreement layout: its due run is kept, its schedule is the slot's
            job.remove()
            if due and agreement_id in loaded:
                catch_up[job.id] = (kind, agreement_id, job.next_run_time)
        for job_id, slot in wanted.items():
            if job_id not in stored:
                self.scheduler.add_job(
                    SLOT_REF,
                    trigger=slot.trigger,
                    args=(slot.kind, slot.members),
                    id=job_id,
                    name=f"{slot.kind}: {slot.shown}",
                    replace_existing=True,
                )
        for job_id, (kind, agreement_id, when) in catch_up.items():
            log.info("%s of %s missed at %s: run once now", kind, agreement_id, when)
            self.scheduler.add_job(
                CATCH_UP_REFS[kind],
                trigger=DateTrigger(run_date=when),
                args=[agreement_id],
                id=job_id,
                name=job_id,
                replace_existing=True,
            )

    def job_of(self, prefix: str, agreement_id: str) -> Job | None:
        """The slot's job that runs `prefix`'s work (JOB_PREFIX, REMIND_PREFIX, …) for the
        agreement, or None."""
        kind = prefix.rstrip(":")
        for job in self.scheduler.get_jobs():
            if job.id.startswith(kind + SLOT_MARK) and agreement_id in job.args[1]:
                return job
        return None

    def next_runs(self) -> dict[str, datetime | None]:
        """When each agreement is reviewed next (a missed review still to run comes first)."""
        runs: dict[str, datetime | None] = {}
        for job in self.scheduler.get_jobs():
            kind, is_slot, agreement_id = _parse_id(job.id)
            if kind != "review":
                continue
            for member in job.args[1] if is_slot else [agreement_id]:
                known = runs.get(member)
                at = job.next_run_time
                runs[member] = at if known is None or (at is not None and at < known) else known
        return runs

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
