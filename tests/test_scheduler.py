"""Scheduled reviews: the schedule, a missed review run once at the next start, and on
PostgreSQL one leader at a time with a take-over when it stops."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select

from bot.app.bootstrap import start
from bot.config import load_config
from bot.runtime import jobs as jobs_module
from bot.runtime.context import Runtime
from bot.runtime.jobs import EveryNDays, run_scheduled_settlement
from bot.runtime.scheduler import (
    JOB_PREFIX,
    ReviewScheduler,
    SchedulerLeader,
    overstock_trigger,
    review_trigger,
    settlement_trigger,
)
from bot.storage.db import transaction
from bot.storage.stock import record_count
from bot.storage.tables import OutboxRow, ProposalRow
from messages.cards import Card
from tests.support import DATA, EXAMPLE, SHANGHAI, shanghai


def count_45(rt: Runtime) -> None:
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6205", 45, datetime.now(UTC) - timedelta(hours=1))


def proposal_count(rt: Runtime) -> int:
    with transaction(rt.engine) as s:
        return len(list(s.scalars(select(ProposalRow))))


def test_reviews_fall_every_3_days_at_8_in_shanghai() -> None:
    trigger = review_trigger(load_config(EXAMPLE).agreement("plant-6205"))  # type: ignore[arg-type]
    first = trigger.get_next_fire_time(None, shanghai(2026, 11, 21, 12, 0))
    second = trigger.get_next_fire_time(first, first)
    assert first is not None and second is not None
    assert first.astimezone(SHANGHAI) > shanghai(2026, 11, 21, 12, 0)
    assert first.astimezone(SHANGHAI).hour == 8 and second - first == timedelta(days=3)
    # the same days whenever the bot starts: a start just before 08:00 that day gives that day
    assert trigger.get_next_fire_time(None, first - timedelta(minutes=1)) == first


def test_reviews_stay_at_8_local_across_daylight_saving_changes() -> None:
    new_york = ZoneInfo("America/New_York")
    trigger = EveryNDays(3, clock_time(8, 0), new_york)
    fire = trigger.get_next_fire_time(None, datetime(2026, 2, 1, tzinfo=new_york))
    seen = []
    for _ in range(100):  # February to November: spring forward and fall back
        assert fire is not None
        seen.append(fire.astimezone(new_york))
        fire = trigger.get_next_fire_time(fire, fire)
    assert {(t.hour, t.minute) for t in seen} == {(8, 0)}
    assert {(b.date() - a.date()).days for a, b in itertools.pairwise(seen)} == {3}


def test_a_review_missed_while_down_runs_once_at_the_next_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    before = start(str(EXAMPLE), url)
    count_45(before)
    scheduler = ReviewScheduler(before)
    scheduler.scheduler.start(paused=True)
    scheduler.sync_jobs()
    # The bot was down over three review days: the stored next run is nine days ago.
    slot = scheduler.job_of(JOB_PREFIX, "plant-6205")
    assert slot is not None
    scheduler.scheduler.modify_job(slot.id, next_run_time=datetime.now(UTC) - timedelta(days=9))
    scheduler.stop()
    before.engine.dispose()

    after = start(str(EXAMPLE), url)
    runs: list[JobExecutionEvent] = []
    ran = threading.Event()

    def listen(event: JobExecutionEvent) -> None:
        runs.append(event)
        ran.set()

    restarted = ReviewScheduler(after)
    restarted.scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    restarted.start()
    try:
        assert ran.wait(20), "the missed review did not run"
        time.sleep(0.5)  # a second (uncoalesced) run would land here
        assert [e.exception for e in runs] == [None]
        assert proposal_count(after) == 1
        next_run = restarted.next_runs()["plant-6205"]
        assert next_run is not None and next_run > datetime.now(UTC)
    finally:
        restarted.stop()
        after.engine.dispose()


def test_a_restart_keeps_the_next_review_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    rt = start(str(EXAMPLE), url)
    first = ReviewScheduler(rt)
    first.start()
    planned = first.next_runs()
    first.stop()
    again = ReviewScheduler(rt)
    again.start()
    try:
        assert again.next_runs() == planned and planned["plant-6205"] is not None
    finally:
        again.stop()
        rt.engine.dispose()


@pytest.mark.postgres
def test_only_one_process_leads_and_another_takes_over(postgres_url: str) -> None:
    # Two bot processes: separate engines, so separate PostgreSQL sessions holding the lock.
    one, two = start(str(EXAMPLE), postgres_url), start(str(EXAMPLE), postgres_url)
    first = SchedulerLeader(one, poll_seconds=0.2)
    second = SchedulerLeader(two, poll_seconds=0.2)
    try:
        first.start()
        assert first.wait_until_leading(10)
        second.start()
        assert not second.wait_until_leading(1.5)
        first.stop()
        assert second.wait_until_leading(10)
        assert not first.leading
    finally:
        first.stop()
        second.stop()
        with transaction(one.engine) as s:
            s.exec(select(1))  # type: ignore[call-overload]
        one.engine.dispose()
        two.engine.dispose()


def test_the_settlement_statement_is_posted_on_the_25th_at_9(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    trigger = settlement_trigger(config.agreement("plant-6205"))  # type: ignore[arg-type]
    fire = trigger.get_next_fire_time(None, shanghai(2026, 11, 21, 12, 0))
    assert fire == shanghai(2026, 11, 25, 9, 0)

    rt = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    scheduler = ReviewScheduler(rt)
    scheduler.start()
    try:
        # one job per kind and time slot, each running the agreements due at it
        jobs = {job.id.partition("@")[0]: job.args for job in scheduler.scheduler.get_jobs()}
        assert jobs == {
            kind: (kind, ["plant-6205"])
            for kind in ("review", "settle", "remind", "overstock", "retro")
        }
        run_scheduled_settlement("plant-6205")
        run_scheduled_settlement("plant-6205")  # a second run for the same cutoff posts nothing
    finally:
        scheduler.stop()
    with transaction(rt.engine) as s:
        cards = [Card.from_json(c) for c in s.scalars(select(OutboxRow.card))]
    assert [c.title.split(" · ")[0] for c in cards] == ["结算单"]
    rt.engine.dispose()


def test_the_overstock_check_runs_daily_at_9_30_local_time() -> None:
    config = load_config(EXAMPLE)
    trigger = overstock_trigger(config.agreement("plant-6205"))  # type: ignore[arg-type]
    assert trigger.get_next_fire_time(None, shanghai(2026, 11, 21, 12, 0)) == shanghai(
        2026, 11, 22, 9, 30
    )
    assert trigger.get_next_fire_time(None, shanghai(2026, 11, 22, 9, 0)) == shanghai(
        2026, 11, 22, 9, 30
    )


def test_jobs_stored_by_the_first_layout_still_run_after_the_upgrade(tmp_path: Path) -> None:
    """tests/data/db_before_layout.sql: `sqlite3 .dump` of a database written by version 0.1:
    count 45 and a review (P1 55) on 2026-11-21, then the bot stopped before its next review,
    settlement and reminder hour. Its job store names the jobs `bot.scheduler:…`."""
    path = tmp_path / "vmi.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript((DATA / "db_before_layout.sql").read_text(encoding="utf-8"))
        stored = dict(old.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall())
    rt = start(str(EXAMPLE), f"sqlite:///{path}")
    scheduler = ReviewScheduler(rt)
    scheduler.scheduler.start(paused=True)
    scheduler.sync_jobs()
    try:
        jobs = scheduler.scheduler.get_jobs()
        # the missed runs are kept, each once for its agreement (a slot's job made anew is due
        # only in the future)...
        times = {j.id: j.next_run_time.timestamp() for j in jobs}
        assert {job: at for job, at in times.items() if job in stored} == stored
        assert all(isinstance(j.trigger, DateTrigger) for j in jobs if j.id in stored)
        # ...and the schedule goes on in one job per kind and slot, from now on
        later = {j.id.partition("@")[0] for j in jobs if j.id not in stored}
        assert later == {"review", "settle", "remind", "overstock", "retro"}
        assert all(j.next_run_time > datetime.now(UTC) for j in jobs if j.id not in stored)
        assert stored["review:plant-6205"] == shanghai(2026, 11, 24, 8).timestamp()
        # ...under the new address
        assert {j.func_ref.partition(":")[0] for j in jobs} == {"bot.runtime.jobs"}
        runs: dict[str, JobExecutionEvent] = {}
        all_ran = threading.Event()

        def listen(event: JobExecutionEvent) -> None:
            runs[event.job_id] = event
            if len(runs) == len(stored):
                all_ran.set()

        scheduler.scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        jobs_module.activate(rt)
        scheduler.scheduler.resume()
        assert all_ran.wait(20), f"only {sorted(runs)} ran"
        assert {job: e.exception for job, e in runs.items()} == dict.fromkeys(stored)
        assert {j.id for j in scheduler.scheduler.get_jobs()} & set(stored) == set()  # once
        with transaction(rt.engine) as s:  # the data came along: P1 55 is still the one proposal
            assert [(p.id, p.qty, p.state) for p in s.scalars(select(ProposalRow))] == [
                (1, 55, "proposed")
            ]
    finally:
        scheduler.stop()
        rt.engine.dispose()
