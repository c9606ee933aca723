"""The scheduler's jobs grouped by time slot: agreements with the same schedule share one job,
each still runs once, a missed run is kept for the agreement that missed it, and one
agreement's failure does not stop the others of its slot."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import select, text

from bot.app.bootstrap import start
from bot.runtime import jobs as jobs_module
from bot.runtime.context import Runtime
from bot.runtime.scheduler import JOB_PREFIX, ReviewScheduler
from bot.storage.db import transaction
from bot.storage.stock import record_count
from bot.storage.tables import ProposalRow
from tests.support import DATA, EXAMPLE

BOTH = ["plant-6205", "motor-6205"]


def two_agreements(tmp_path: Path, motor_review_at: str = "") -> str:
    """The example with a second customer's agreement, reviewed like the first unless
    `motor_review_at` moves its review time."""
    extra = (DATA / "second_customer.toml").read_text(encoding="utf-8")
    if motor_review_at:
        extra = extra.replace(
            'supplier = "bearing-co"\n',
            f'supplier = "bearing-co"\nreview_time = "{motor_review_at}"\n',
        )
    path = tmp_path / "two.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return str(path)


def below_min(rt: Runtime) -> None:
    """Both agreements' 6205 counted below min: a review proposes for each."""
    with transaction(rt.engine) as s:
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        record_count(s, "plant-6205", "6205", 45, an_hour_ago)
        record_count(s, "motor-6205", "6205", 5, an_hour_ago)


def proposed_for(rt: Runtime) -> list[str]:
    with transaction(rt.engine) as s:
        return sorted(s.scalars(select(ProposalRow.agreement_id)))


def review_jobs(scheduler: ReviewScheduler) -> list[tuple[str, list[str]]]:
    return [
        (job.id, list(job.args[-1]) if job.id.startswith("review@") else job.args)
        for job in scheduler.scheduler.get_jobs()
        if job.id.startswith("review")
    ]


def missed_while_down(url: str, config: str) -> None:
    """The bot ran once and stopped; it stays down past its next review (made nine days ago)."""
    before = start(config, url)
    below_min(before)
    scheduler = ReviewScheduler(before)
    scheduler.scheduler.start(paused=True)
    scheduler.sync_jobs()
    slot = scheduler.job_of(JOB_PREFIX, "plant-6205")
    assert slot is not None
    scheduler.scheduler.modify_job(slot.id, next_run_time=datetime.now(UTC) - timedelta(days=9))
    scheduler.stop()
    before.engine.dispose()


class Runs:
    """The jobs a scheduler ran, as they end."""

    def __init__(self) -> None:
        self.events: list[JobExecutionEvent] = []
        self.changed = threading.Event()

    def __call__(self, event: JobExecutionEvent) -> None:
        self.events.append(event)
        self.changed.set()

    def wait_for(self, count: int, timeout: float = 20) -> list[JobExecutionEvent]:
        """The runs once `count` have ended, and a moment more for any that should not come."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            self.changed.wait(0.1)
            self.changed.clear()
        time.sleep(0.5)  # a second (uncoalesced) run would land here
        return self.events


@pytest.fixture
def restarted(tmp_path: Path) -> Iterator[tuple[str, Runs, list[ReviewScheduler]]]:
    """A database URL, a listener for the runs, and where a test leaves its scheduler."""
    runs, started = Runs(), []
    yield f"sqlite:///{tmp_path / 'vmi.sqlite'}", runs, started
    for scheduler in started:
        scheduler.stop()
        scheduler.runtime.engine.dispose()


def restart(url: str, config: str, runs: Runs, started: list[ReviewScheduler]) -> Runtime:
    after = start(config, url)
    scheduler = ReviewScheduler(after)
    scheduler.scheduler.add_listener(runs, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    started.append(scheduler)
    scheduler.start()
    return after


def test_two_agreements_with_one_schedule_share_one_job_and_both_are_reviewed(
    tmp_path: Path, restarted: tuple[str, Runs, list[ReviewScheduler]]
) -> None:
    url, runs, started = restarted
    config = two_agreements(tmp_path)
    missed_while_down(url, config)
    after = restart(url, config, runs, started)
    [(job_id, members)] = review_jobs(started[0])
    assert job_id.startswith("review@") and members == BOTH
    events = runs.wait_for(1)
    assert [(e.job_id, e.exception) for e in events] == [(job_id, None)]  # once, for both
    assert proposed_for(after) == sorted(BOTH)
    next_runs = started[0].next_runs()
    assert next_runs["plant-6205"] == next_runs["motor-6205"]
    assert next_runs["plant-6205"] is not None and next_runs["plant-6205"] > datetime.now(UTC)


def test_an_agreement_moved_out_of_a_missed_slot_is_reviewed_once_alone(
    tmp_path: Path, restarted: tuple[str, Runs, list[ReviewScheduler]]
) -> None:
    url, runs, started = restarted
    missed_while_down(url, two_agreements(tmp_path))
    # while the bot was down, motor's review moved to 09:00: its missed review still runs
    after = restart(url, two_agreements(tmp_path, motor_review_at="09:00"), runs, started)
    events = runs.wait_for(2)
    ran = sorted((e.job_id.partition("@")[0], e.exception) for e in events)
    assert ran == [("review", None), ("review:motor-6205", None)]  # each agreement once
    assert proposed_for(after) == sorted(BOTH)
    jobs = dict(review_jobs(started[0]))
    assert sorted(jobs.values()) == [["motor-6205"], ["plant-6205"]]  # two slots from now on
    assert all(job.startswith("review@") for job in jobs)  # the catch-up is gone


def test_one_agreements_failure_does_not_stop_the_others_in_its_slot(tmp_path: Path) -> None:
    rt = start(two_agreements(tmp_path), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    below_min(rt)
    with rt.engine.begin() as conn:  # plant's proposals cannot be stored: its review fails
        conn.execute(
            text(
                "CREATE TRIGGER broken BEFORE INSERT ON proposal "
                "WHEN NEW.agreement_id = 'plant-6205' "
                "BEGIN SELECT RAISE(ABORT, 'plant is broken'); END"
            )
        )
    jobs_module.activate(rt)
    try:
        with pytest.raises(RuntimeError, match=r"scheduled review failed for plant-6205$"):
            jobs_module.run_slot("review", BOTH)
    finally:
        jobs_module.activate(None)
    assert proposed_for(rt) == ["motor-6205"]
    rt.engine.dispose()
