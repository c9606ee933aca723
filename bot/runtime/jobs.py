"""The scheduled jobs, at the addresses the job store keeps.

A time slot's job (`run_slot`) runs one kind of work for every agreement due at that slot; the
per-agreement jobs (`run_scheduled_*`) run one agreement's missed run once (and are where jobs
stored by earlier layouts point).

apscheduler stores a job as a reference to its function (`bot.runtime.jobs:run_scheduled_review`)
and pickles its trigger by class path (`bot.runtime.jobs.EveryNDays`): moving or renaming
anything here would lose every stored job. Keep these names where they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from bot.runtime.context import Runtime
from bot.services.overstock import check_overstock
from bot.services.reminders import post_reminders
from bot.services.retro import post_retros
from bot.services.review import review
from bot.services.settlement import post_statements
from bot.storage.db import transaction

log = logging.getLogger(__name__)
Done = TypeVar("Done")  # what a job's work returns

# Reviews fall on the same days across restarts: every R days counted from this day.
SCHEDULE_EPOCH = date(2026, 1, 1)

_active: Runtime | None = None  # what the scheduled jobs review (one scheduler per process)
_resync: Callable[[], None] | None = None  # brings the jobs in line with the agreed terms


def activate(runtime: Runtime | None, resync: Callable[[], None] | None = None) -> None:
    """What the jobs of this process run on (None: nothing, they skip); `resync` brings the
    stored jobs in line with the terms as amended (a reminder's time agreed in chat)."""
    global _active, _resync
    _active, _resync = runtime, resync


def active() -> Runtime | None:
    """What the jobs of this process run on now."""
    return _active


def _run_for(agreement_id: str, job: str, work: Callable[..., Done]) -> Done | None:
    """Run one agreement's job on the active runtime, in one transaction, as of now, for the
    platforms its settings turn on."""
    runtime = _active
    if runtime is None or runtime.config.agreement(agreement_id) is None:
        log.warning("%s of %s skipped: agreement not loaded", job, agreement_id)
        return None
    with transaction(runtime.engine) as session:
        return work(
            session,
            runtime.config.only([agreement_id]),  # nothing of the others is read
            datetime.now(UTC),
            platforms=runtime.settings.platforms_on,
        )


def _run_together(agreement_ids: list[str], job: str, work: Callable[..., Done]) -> list[Done]:
    """Run the agreements' job in one transaction; if that fails, each agreement in its own,
    so one agreement's failure does not stop the others. Returns what each run gave."""
    runtime = _active
    if runtime is None:
        log.warning("%s of %d agreement(s) skipped: nothing loaded", job, len(agreement_ids))
        return []
    config = runtime.config.only(agreement_ids)
    loaded = [a.id for a in config.agreements]
    if len(loaded) < len(agreement_ids):
        gone = sorted(set(agreement_ids) - set(loaded))
        log.warning("%s of %s skipped: agreement not loaded", job, ", ".join(gone))
    try:
        with transaction(runtime.engine) as session:
            # the slot's agreements only: the work reads nothing of the others
            done = work(session, config, datetime.now(UTC), platforms=runtime.settings.platforms_on)
        return [done]
    except Exception:  # one agreement's bad data must not cost the others their run
        if len(loaded) < 2:
            raise
        log.exception("%s of %d agreements together failed; running each alone", job, len(loaded))
    results, failed = [], []
    for agreement_id in loaded:
        try:
            results.append(_run_for(agreement_id, job, work))
        except Exception:
            log.exception("%s of %s failed", job, agreement_id)
            failed.append(agreement_id)
    if failed:
        raise RuntimeError(f"{job} failed for {', '.join(failed)}")
    return [r for r in results if r is not None]


# What each kind of slot runs: the work, and how its log names it.
_KINDS: dict[str, tuple[Callable[..., object], str]] = {
    "review": (review, "scheduled review"),
    "settle": (post_statements, "settlement"),
    "retro": (post_retros, "monthly review"),
    "remind": (post_reminders, "reminders"),
    "overstock": (check_overstock, "overstock check"),
}


def run_slot(kind: str, agreement_ids: list[str]) -> None:
    """The job of one time slot: `kind`'s work (review, settle, retro, remind, overstock) for
    every agreement due at it; the reminders' slots then follow reminder times agreed in chat."""
    work, name = _KINDS[kind]
    try:
        done = _run_together(list(agreement_ids), name, work)
        made = sum(len(d) for d in done if isinstance(d, list))
        log.info("%s of %d agreement(s): %d done", name, len(agreement_ids), made)
    finally:
        if kind == "remind" and _resync is not None:
            _resync()


def run_scheduled_review(agreement_id: str) -> None:
    """The job: review one agreement now, as `vmi-bot check` would."""
    results = _run_for(agreement_id, "scheduled review", review) or []
    proposed = [r for r in results if r.decision.action in ("propose", "update")]
    log.info("scheduled review of %s: %d proposal(s) made or resized", agreement_id, len(proposed))


def run_scheduled_settlement(agreement_id: str) -> None:
    """The job: post the agreement's settlement statement and monthly review to its group."""
    _run_for(agreement_id, "settlement", post_statements)


def run_scheduled_retro(agreement_id: str) -> None:
    """The job: post the monthly review of the period just settled, with its chart."""
    _run_for(agreement_id, "monthly review", post_retros)


def run_scheduled_reminders(agreement_id: str) -> None:
    """The job: post the reminders due now (each occasion once), then follow any reminder time
    agreed in chat since (it runs at least hourly, so a new time is taken up within the hour)."""
    _run_for(agreement_id, "reminders", post_reminders)
    if _resync is not None:
        _resync()


def run_scheduled_overstock(agreement_id: str) -> None:
    """The job: raise the overstock alerts due now (each lot once, a week's reminder once)."""
    raised = _run_for(agreement_id, "overstock check", check_overstock) or []
    log.info("overstock check of %s: %d alert(s) raised", agreement_id, len(raised))


class EveryNDays(BaseTrigger):  # type: ignore[misc]  # apscheduler 3 ships no types: Any
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
