"""The inbox handled in batches and by several workers: each chat's messages in the order they
came and each once, whichever worker takes them; a message whose handling raises is set aside
alone; on PostgreSQL every process handles, and a worker killed mid-batch loses nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.runtime.context import Runtime
from bot.storage.db import transaction
from bot.storage.inbox import heads
from bot.storage.tables import InboxRow, LedgerRow, OutboxRow
from handlers.conversation import accept, process_batch
from handlers.incoming import Incoming
from handlers.turn import Turn
from messages.cards import Card
from tests.benchmarks.burst import channel, config_text, keeper
from tests.support import ROOT

CHATS, PER_CHAT = 6, 8
SLACK = frozenset({"slack"})


def burst_runtime(tmp_path: Path, url: str) -> Runtime:
    """CHATS agreements, each with its own Slack channel and keeper, on `url`."""
    config = tmp_path / "burst.toml"
    if not config.exists():
        config.write_text(config_text(CHATS))
    return start(str(config), url)


def counts_sent(engine: Engine, now: datetime) -> None:
    """PER_CHAT counts in every chat, the chats interleaved: 90, 89, 88... in each."""
    for n in range(PER_CHAT):
        for a in range(CHATS):
            said = Incoming("slack", channel(a), keeper(a), f"{a}-{n}", now + timedelta(seconds=n),
                            f"6205 库存 {90 - n}", direct=False, addressed=False,
                            origin_ref=f"{a}.{n}")  # fmt: skip
            assert accept(engine, said) is not None


def counts_recorded(engine: Engine) -> dict[str, list[tuple[int, int]]]:
    """Each agreement's counts in ledger order: (inbox id, quantity)."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    with transaction(engine, read_only=True) as session:
        rows = session.execute(
            select(LedgerRow.agreement_id, LedgerRow.inbox_id, LedgerRow.qty)
            .where(LedgerRow.kind == "count")
            .order_by(LedgerRow.id)  # type: ignore[arg-type]
        )
        for agreement_id, inbox_id, qty in rows:
            found[agreement_id].append((inbox_id, qty))
    return found


def in_order_once(engine: Engine, chats: int = CHATS) -> None:
    """Every chat's counts recorded once each, in the order they were said."""
    recorded = counts_recorded(engine)
    assert len(recorded) == chats
    for agreement_id, counts in recorded.items():
        assert [qty for _, qty in counts] == [90 - n for n in range(PER_CHAT)], agreement_id
        ids = [inbox_id for inbox_id, _ in counts]
        assert ids == sorted(set(ids)), agreement_id
    with transaction(engine, read_only=True) as session:
        waiting = session.scalars(select(InboxRow.id).where(InboxRow.handled_at.is_(None)))  # type: ignore[union-attr]
        assert list(waiting) == []


def drain(runtime: Runtime, limit: int = 3) -> int:
    """Handle batches until none is left for this worker; how many it handled."""
    handled = 0
    while done := process_batch(runtime.engine, runtime.config, SLACK, limit=limit):
        handled += done
    return handled


def test_a_batch_handles_one_message_of_each_chat_and_keeps_each_chats_order(
    database_url: str, tmp_path: Path
) -> None:
    rt = burst_runtime(tmp_path, database_url)
    try:
        counts_sent(rt.engine, datetime.now(UTC))
        # one batch: the oldest message of each chat, not a chat's second before another's first
        assert process_batch(rt.engine, rt.config, SLACK, limit=50, seconds=60) == CHATS
        assert {a: len(c) for a, c in counts_recorded(rt.engine).items()} == {
            f"agr-{a:05d}": 1 for a in range(CHATS)
        }
        assert drain(rt) == CHATS * (PER_CHAT - 1)
        in_order_once(rt.engine)
        with transaction(rt.engine, read_only=True) as session:
            replies = session.scalars(select(OutboxRow.card).where(OutboxRow.key.like("reply:%")))  # type: ignore[union-attr]
            assert len([Card.from_json(c) for c in replies]) == CHATS * PER_CHAT
    finally:
        rt.engine.dispose()


def test_a_message_whose_handling_raises_is_set_aside_alone_and_its_batch_kept(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import registry

    count = next(r for r in registry.INTENTS if r.name == "count")

    def breaks_in_the_first_chat(turn: Turn, intent: Any) -> Card:
        card = count.handler(turn, intent)  # its count is written, then the bug
        if turn.incoming.message_id == "0-0":  # the first chat's first message, every time
            state["raised"] += 1
            raise RuntimeError("a bug")
        return card

    state = {"raised": 0}
    rows = [replace(r, handler=breaks_in_the_first_chat) if r is count else r
            for r in registry.INTENTS]  # fmt: skip
    monkeypatch.setattr(registry, "INTENTS", tuple(rows))
    rt = burst_runtime(tmp_path, database_url)
    try:
        counts_sent(rt.engine, datetime.now(UTC))
        assert process_batch(rt.engine, rt.config, SLACK, limit=50, seconds=60) == CHATS
        with transaction(rt.engine, read_only=True) as session:
            first = session.scalars(
                select(InboxRow).where(InboxRow.platform_message_id == "0-0")
            ).one()
            assert first.handled_at is not None and first.error == "RuntimeError: a bug"
            [sorry] = session.scalars(
                select(OutboxRow.card).where(OutboxRow.key == f"reply:{first.id}")
            )
            assert Card.from_json(sorry).refusal
        # its count was rolled back alone; the other chats' counts of the batch were kept
        assert sorted(counts_recorded(rt.engine)) == [f"agr-{a:05d}" for a in range(1, CHATS)]
        assert state["raised"] == 2  # in the batch, then alone, when it was set aside
        drain(rt)
        recorded = counts_recorded(rt.engine)
        assert [q for _, q in recorded["agr-00000"]] == [90 - n for n in range(1, PER_CHAT)]
    finally:
        rt.engine.dispose()


def test_a_stored_message_that_cannot_be_read_is_set_aside_and_its_chat_goes_on(
    database_url: str, tmp_path: Path
) -> None:
    rt = burst_runtime(tmp_path, database_url)
    try:
        counts_sent(rt.engine, datetime.now(UTC))
        damaged = (("0-0", "{not json"), ("1-0", "[1, 2]"), ("2-0", '{"text": "6205 库存 1"}'))
        with transaction(rt.engine) as session:  # not JSON, not an object, not a message's fields
            for message_id, junk in damaged:
                row = session.scalars(
                    select(InboxRow).where(InboxRow.platform_message_id == message_id)
                ).one()
                row.incoming = junk
        assert drain(rt, limit=50) == CHATS * PER_CHAT
        with transaction(rt.engine, read_only=True) as session:
            set_aside = session.scalars(select(InboxRow).where(InboxRow.error != "")).all()
        why = {row.platform_message_id: row.error for row in set_aside}
        assert sorted(why) == ["0-0", "1-0", "2-0"]
        assert why["2-0"] == "ValueError: not a stored message: no platform, at"
        recorded = counts_recorded(rt.engine)  # every other count, in its chat's order
        for a in (0, 1, 2):
            assert [q for _, q in recorded[f"agr-{a:05d}"]] == [90 - n for n in range(1, PER_CHAT)]
        assert all(len(recorded[f"agr-{a:05d}"]) == PER_CHAT for a in range(3, CHATS))
    finally:
        rt.engine.dispose()


@pytest.mark.postgres
def test_on_postgres_every_process_handles_messages(postgres_url: str) -> None:
    from tests.support import EXAMPLE

    one, two = start(str(EXAMPLE), postgres_url), start(str(EXAMPLE), postgres_url)
    first, second = build_service(one), build_service(two)
    try:
        message = Incoming("console", "plant-6205", "keeper", "pg-every",
                           datetime.now(UTC), "6205 库存 45")  # fmt: skip
        assert accept(two.engine, message) is not None
        assert second.inbox.run_once() == 1  # no leader needed: the process that took it
        assert first.inbox.run_once() == 0  # and only once
    finally:
        one.engine.dispose()
        two.engine.dispose()


@pytest.mark.postgres
def test_a_worker_whose_first_chats_another_holds_takes_the_next_chats_on_postgres(
    postgres_url: str, tmp_path: Path
) -> None:
    rt = burst_runtime(tmp_path, postgres_url)
    try:
        counts_sent(rt.engine, datetime.now(UTC))
        with transaction(rt.engine, read_only=True) as session:
            firsts = list(session.scalars(select(InboxRow.id).order_by(InboxRow.id).limit(CHATS)))  # type: ignore[arg-type]
        with (
            transaction(rt.engine) as one,
            transaction(rt.engine) as two,
            transaction(rt.engine) as three,
        ):
            assert [m.id for m in heads(one, 2)] == firsts[:2]
            # the first chats are held: not their next messages, the next chats' first ones
            assert [m.id for m in heads(two, 2)] == firsts[2:4]
            assert [m.id for m in heads(three, 10)] == firsts[4:]
    finally:
        rt.engine.dispose()


@pytest.mark.postgres
def test_two_workers_on_postgres_keep_each_chats_order_and_handle_each_message_once(
    postgres_url: str, tmp_path: Path
) -> None:
    one, two = burst_runtime(tmp_path, postgres_url), burst_runtime(tmp_path, postgres_url)
    try:
        counts_sent(one.engine, datetime.now(UTC))
        handled: dict[str, int] = {}
        go = threading.Barrier(2)

        def work(name: str, rt: Runtime) -> None:
            go.wait()
            handled[name] = drain(rt, limit=2)

        workers = {"one": one, "two": two}
        threads = [threading.Thread(target=work, args=item) for item in workers.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sum(handled.values()) == CHATS * PER_CHAT
        in_order_once(one.engine)
    finally:
        one.engine.dispose()
        two.engine.dispose()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from bot.storage.db import make_engine, transaction
    from bot.storage.inbox import heads, mark_handled

    engine = make_engine(sys.argv[1])
    with transaction(engine) as session:
        ids = [message.id for message in heads(session, 2)]
        mark_handled(session, ids, datetime.now(UTC))
        print(" ".join(map(str, ids)), flush=True)
        time.sleep(600)  # killed before it commits
    """
)


@pytest.mark.postgres
def test_a_worker_killed_mid_batch_on_postgres_loses_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    rt = burst_runtime(tmp_path, postgres_url)
    holder = None
    try:
        counts_sent(rt.engine, datetime.now(UTC))
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, postgres_url],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        assert holder.stdout is not None
        taken = [int(i) for i in holder.stdout.readline().split()]
        assert len(taken) == 2
        # while it holds two chats' first messages, the others are handled, those two wait whole
        assert drain(rt) == (CHATS - 2) * PER_CHAT
        held = counts_recorded(rt.engine)
        assert len(held) == CHATS - 2
        holder.kill()
        holder.wait(timeout=30)
        # its locks go with its connection, once PostgreSQL has noticed the client is gone
        handled, deadline = 0, time.monotonic() + 30
        while handled < 2 * PER_CHAT and time.monotonic() < deadline:
            handled += drain(rt)
            time.sleep(0.05)
        assert handled == 2 * PER_CHAT
        in_order_once(rt.engine)
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        rt.engine.dispose()
