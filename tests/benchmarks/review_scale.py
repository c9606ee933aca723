"""Scale benchmark of the review: 1,000 agreements x 10 items x a year of ledger rows, on SQLite.

Run on demand (pytest does not collect it), from the repository root:

    python tests/benchmarks/review_scale.py --keep /tmp/bench.sqlite --repeat 3

It builds the configuration in memory (TOML text through `bot.config.parse_config`), a SQLite
file in WAL mode (`bot.storage.db.make_engine` + `bot.storage.migrate.upgrade` +
`bot.storage.catalog.sync_catalog`)
holding a year of daily counts, most-days withdrawals, fortnightly receipts and some open and
closed proposals for every item, and then times:

* the floor: one plain SQL statement giving every item's inventory position (on hand from
  the latest count onward, plus what open proposals still have outstanding);
* the review: `bot.services.review.review` over all agreements at one `now`, inside
  `bot.storage.db.transaction`, with the console on so it also queues the proposal cards.

Both must give the same position for every item, or the script fails. Every review run is
rolled back (after its final flush), so each repeat reviews the same state. Generation takes
about a minute at full size (7 M ledger rows, 1.3 GB); `--keep PATH` stores the database, with
`PATH.json` saying what it was made for, and reuses it on the next run. `--profile` adds a
cProfile of one more review.

`--db postgresql+psycopg://...` runs the same on PostgreSQL: the rows go in by COPY, the
database is emptied first (every bot table; use a database of its own) unless it already holds
exactly this size (a `benchmark_size` table says which), and the floor is the same statement
in PostgreSQL's words. The ratio printed is of medians (the machine is shared).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import multiprocessing
import pstats
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from bot.app.bootstrap import register_audiences
from bot.config import Config, parse_config
from bot.services.review import ReviewResult, review
from bot.storage.catalog import sync_catalog
from bot.storage.db import make_engine, transaction
from bot.storage.migrate import upgrade
from bot.storage.tables import OutboxRow

ItemKey = tuple[str, str]  # (agreement id, sku)

NOW = datetime(2025, 7, 1, 10, 0, tzinfo=UTC)  # the review's `now`; 18:00 in Shanghai
SEED = 20250701
TARGET_RATIO = 3.0
PG_TARGET_RATIO = 2.5  # on PostgreSQL, medians
PLATFORMS = frozenset({"console"})

BELOW_MIN_SHARE = 0.30  # items left below min on the last day
CONFIRMED_SHARE = 0.10  # items with a confirmed regular proposal
SHIPPED_SHARE = 0.03  # items with a shipped, partly received regular proposal
URGENT_SHARE = 0.01  # items with a confirmed urgent proposal as well
CLOSED_SHARE = 0.20  # items with a received, rejected or expired proposal (must not count)
WITHDRAWAL_DAY_SHARE = 0.85  # days with a withdrawal
SHRINK_SHARE = 0.03  # counts that find less than the book (an inferred withdrawal first)
RECEIPT_EVERY_DAYS = 14
BATCH_DAYS = 30  # days of ledger rows per generation transaction

# Times of day (UTC) of the generated movements: count first, then receipt, then withdrawal.
COUNT_AT = timedelta(minutes=30)
RECEIPT_AT = timedelta(hours=2)
WITHDRAWAL_AT = timedelta(hours=6)
RECORDED_AFTER = timedelta(minutes=5)

LEDGER_INSERT = (
    "INSERT INTO ledger (agreement_id, sku, kind, qty, at, recorded_at, member_id,"
    " proposal_id, inbox_id, inferred, anomaly_gain, note)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, 0, ?)"
)
PROPOSAL_INSERT = (
    "INSERT INTO proposal (agreement_id, sku, qty, state, urgent, received_qty, reason, eta,"
    " reject_reason, decided_by, version, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, 'below_min', ?, '', ?, ?, ?, ?)"
)

# The floor: the same positions the review decides on, by one plain SQL statement.
FLOOR_SQL = """
WITH latest_count AS (
    SELECT agreement_id, sku, MAX(id) AS count_id
    FROM ledger
    WHERE kind = 'count'
    GROUP BY agreement_id, sku
), on_hand AS (
    SELECT l.agreement_id, l.sku,
           SUM(CASE WHEN l.kind = 'withdrawal' THEN -l.qty ELSE l.qty END) AS qty
    FROM latest_count c
    JOIN ledger l ON l.agreement_id = c.agreement_id AND l.sku = c.sku AND l.id >= c.count_id
    GROUP BY l.agreement_id, l.sku
), outstanding AS (
    SELECT agreement_id, sku, SUM(MAX(qty - received_qty, 0)) AS qty
    FROM proposal
    WHERE state IN ('proposed', 'confirmed', 'shipped')
    GROUP BY agreement_id, sku
)
SELECT o.agreement_id, o.sku, o.qty + COALESCE(p.qty, 0)
FROM on_hand o
LEFT JOIN outstanding p ON p.agreement_id = o.agreement_id AND p.sku = o.sku
"""


@dataclass(frozen=True)
class Size:
    """How much to generate; with the seed it fixes the configuration and every ledger row."""

    agreements: int
    items: int
    days: int
    seed: int = SEED


@dataclass(frozen=True)
class Generated:
    """What generation produced, stored next to a kept database so a reuse can report it."""

    ledger_rows: int
    proposal_rows: int
    seconds: float


@dataclass(frozen=True)
class ReviewRun:
    """One timed review: its results and the outbox cards it queued before the rollback."""

    seconds: float
    results: list[ReviewResult]
    cards: int


class _RollBack(Exception):
    """Raised inside `bot.storage.db.transaction` so that it rolls the review back."""


# ---- configuration ----


def agreement_id(index: int) -> str:
    """The id of the index-th agreement."""
    return f"agr-{index:05d}"


def sku(index: int) -> str:
    """The sku of an agreement's index-th item."""
    return f"SKU-{index:03d}"


def config_text(size: Size) -> str:
    """TOML for `size.agreements` agreements of `size.items` items each, mins and maxes varying.

    One customer party for all; one supplier party per agreement. No members: validation
    does not need them and the review does not read them.
    """
    rng = random.Random(size.seed)
    lines = [
        "[bot]",
        'timezone = "Asia/Shanghai"',
        'locale = "zh"',
        "",
        "[[parties]]",
        'id = "plant"',
        'name = "Plant"',
        'role = "customer"',
    ]
    for a in range(size.agreements):
        lines += ["", "[[parties]]", f'id = "sup-{a:05d}"', f'name = "Supplier {a}"']
        lines += ['role = "supplier"']
    for a in range(size.agreements):
        lines += [
            "",
            "[[agreements]]",
            f'id = "{agreement_id(a)}"',
            'customer = "plant"',
            f'supplier = "sup-{a:05d}"',
            f"review_every_days = {rng.choice((1, 3, 7))}",
        ]
        for i in range(size.items):
            low = rng.randint(20, 200)
            lines += [
                "",
                "[[agreements.items]]",
                f'sku = "{sku(i)}"',
                f'name = "Part {a}-{i}"',
                f"min = {low}",
                f"max = {low * rng.choice((2, 3))}",
                f"pack_size = {rng.choice((1, 1, 5, 10))}",
                f"unit_price = {rng.randint(1, 500) / 4}",
                f"lead_time_days = {rng.randint(1, 7)}",
            ]
    return "\n".join(lines) + "\n"


def build_config(size: Size) -> Config:
    """The configuration for `size`, parsed and checked as the bot does at start."""
    return parse_config(config_text(size), "<benchmark>")


# ---- generation ----


def sqlite_time(moment: datetime) -> str:
    """A UTC datetime as SQLAlchemy's SQLite DateTime stores it (naive, microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class _Stock:
    """One item while its year of movements is generated."""

    agreement_id: str
    sku: str
    min: int
    max: int
    pack: int
    mean_daily: int
    receipt_offset: int
    target: int  # on hand after the last day's movements
    on_hand: int


def _stock_items(config: Config, rng: random.Random) -> list[_Stock]:
    """Every item of the configuration with its generation state, full on the first day."""
    items = []
    for agreement in config.agreements:
        for item in agreement.items:
            if rng.random() < BELOW_MIN_SHARE:
                target = rng.randint(0, item.min - 1)
            else:
                target = rng.randint(item.min, item.max)
            items.append(
                _Stock(
                    agreement_id=agreement.id,
                    sku=item.sku,
                    min=item.min,
                    max=item.max,
                    pack=item.pack_size,
                    mean_daily=max(1, item.max // RECEIPT_EVERY_DAYS),
                    receipt_offset=rng.randrange(RECEIPT_EVERY_DAYS),
                    target=target,
                    on_hand=item.max,
                )
            )
    return items


def _day_rows(
    items: Sequence[_Stock], day: int, last: bool, first_day: date, rng: random.Random
) -> list[tuple[object, ...]]:
    """The ledger rows of one day for every item, in ledger order (count, receipt, withdrawal).

    A count usually agrees with the book; sometimes it finds less, and then, as
    `bot.storage.stock.record_count` does, an inferred withdrawal is stored just before it. On the
    last day the final movement brings each item to its target level.
    """
    midnight = datetime.combine(first_day + timedelta(days=day), datetime.min.time(), UTC)
    times = {
        at: (sqlite_time(midnight + at), sqlite_time(midnight + at + RECORDED_AFTER))
        for at in (COUNT_AT, RECEIPT_AT, WITHDRAWAL_AT)
    }
    count_at, count_rec = times[COUNT_AT]
    receipt_at, receipt_rec = times[RECEIPT_AT]
    withdrawal_at, withdrawal_rec = times[WITHDRAWAL_AT]
    rows: list[tuple[object, ...]] = []
    add = rows.append
    for s in items:
        if s.on_hand > 0 and rng.random() < SHRINK_SHARE:
            lost = rng.randint(1, min(3, s.on_hand))
            s.on_hand -= lost
            note = "inferred from count"
            add((s.agreement_id, s.sku, "withdrawal", lost, count_at, count_rec, "keeper", 1, note))
        add((s.agreement_id, s.sku, "count", s.on_hand, count_at, count_rec, "keeper", 0, ""))
        if (day + s.receipt_offset) % RECEIPT_EVERY_DAYS == 0:
            qty = max(s.pack, math.ceil((s.max - s.on_hand) / s.pack) * s.pack)
            s.on_hand += qty
            add((s.agreement_id, s.sku, "receipt", qty, receipt_at, receipt_rec, "keeper", 0, ""))
        if last:
            move = s.target - s.on_hand
            kind, qty = ("receipt", move) if move > 0 else ("withdrawal", -move)
        else:
            kind = "withdrawal"
            qty = 0
            if rng.random() < WITHDRAWAL_DAY_SHARE:
                qty = min(s.on_hand, rng.randint(1, 2 * s.mean_daily))
        if qty:
            s.on_hand += qty if kind == "receipt" else -qty
            add((s.agreement_id, s.sku, kind, qty, withdrawal_at, withdrawal_rec, "keeper", 0, ""))
    return rows


def _proposal(
    aid: str, sku: str, state: str, qty: int, *, urgent: int = 0, got: int = 0
) -> tuple[object, ...]:
    """One proposal row for PROPOSAL_INSERT, created three days before NOW."""
    created = sqlite_time(NOW - timedelta(days=3))
    updated = sqlite_time(NOW - timedelta(days=1))
    eta = (NOW + timedelta(days=2)).date().isoformat() if state == "shipped" else None
    version = {"proposed": 1, "shipped": 3, "received": 4}.get(state, 2)
    return (aid, sku, qty, state, urgent, got, eta, "buyer", version, created, updated)


def _proposal_rows(config: Config, rng: random.Random) -> list[tuple[object, ...]]:
    """Open (confirmed, shipped and urgent) and closed proposals for a share of the items."""
    rows: list[tuple[object, ...]] = []
    for agreement in config.agreements:
        for item in agreement.items:
            aid, top = agreement.id, item.max
            if rng.random() < CLOSED_SHARE:
                state = rng.choice(("received", "rejected", "expired"))
                got = top if state == "received" else 0
                rows.append(_proposal(aid, item.sku, state, top, got=got))
            draw = rng.random()
            if draw < CONFIRMED_SHARE:
                rows.append(_proposal(aid, item.sku, "confirmed", top))
            elif draw < CONFIRMED_SHARE + SHIPPED_SHARE:
                rows.append(_proposal(aid, item.sku, "shipped", top, got=top // 2))
            if rng.random() < URGENT_SHARE:
                rows.append(_proposal(aid, item.sku, "confirmed", item.min, urgent=1))
    return rows


def generate(path: Path, size: Size) -> Generated:
    """Create the database at `path`: schema, catalog, ledger and proposals; return the counts.

    The schema and catalog go through the bot's own code. The bulk rows go in through plain
    sqlite3 `executemany`, a month of days per transaction, written exactly as SQLAlchemy
    would store them (ledger order = time order across all items, as in a live database).
    """
    start = time.perf_counter()
    config = build_config(size)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with transaction(engine) as session:
        sync_catalog(session, config)
    engine.dispose()

    rng = random.Random(size.seed + 1)
    items = _stock_items(config, rng)
    first_day = NOW.date() - timedelta(days=size.days - 1)
    ledger_rows = 0
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # a crash only loses a file we would redo
        conn.execute("PRAGMA cache_size=-2000000")  # 2 GB: keep both ledger indexes in memory
        for batch_start in range(0, size.days, BATCH_DAYS):
            conn.execute("BEGIN")
            for day in range(batch_start, min(batch_start + BATCH_DAYS, size.days)):
                rows = _day_rows(items, day, day == size.days - 1, first_day, rng)
                conn.executemany(LEDGER_INSERT, rows)
                ledger_rows += len(rows)
            conn.execute("COMMIT")
            done = min(batch_start + BATCH_DAYS, size.days)
            print(f"  generated {ledger_rows:,} ledger rows, {done}/{size.days} days", flush=True)
        proposals = _proposal_rows(config, rng)
        conn.execute("BEGIN")
        conn.executemany(PROPOSAL_INSERT, proposals)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return Generated(ledger_rows, len(proposals), time.perf_counter() - start)


# ---- PostgreSQL ----

SIZE_TABLE = "benchmark_size"
LEDGER_COLUMNS = (
    "agreement_id", "sku", "kind", "qty", "at", "recorded_at", "member_id", "inferred", "note",
    "anomaly_gain",
)  # fmt: skip
PROPOSAL_COLUMNS = (
    "agreement_id", "sku", "qty", "state", "urgent", "received_qty", "reason", "eta",
    "reject_reason", "decided_by", "version", "created_at", "updated_at",
)  # fmt: skip


def pg_stored_size(url: str) -> dict[str, object] | None:
    """What the PostgreSQL database at `url` was generated for, if anything."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(f"SELECT to_regclass('{SIZE_TABLE}')").scalar()
            if found is None:
                return None
            row = conn.exec_driver_sql(f"SELECT size, generated FROM {SIZE_TABLE}").first()
            return {"size": json.loads(row[0]), "generated": json.loads(row[1])} if row else None
    finally:
        engine.dispose()


def pg_generate(url: str, size: Size) -> Generated:
    """`generate` on PostgreSQL: every bot table emptied, then schema, catalog and the rows by
    COPY (times as UTC text, read in a UTC session)."""
    start = time.perf_counter()
    config = build_config(size)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SIZE_TABLE}")
        tables = [
            name
            for (name,) in conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename NOT IN ('alembic_version', 'apscheduler_jobs')"
            )
        ]
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    with transaction(engine) as session:
        sync_catalog(session, config)
    rng = random.Random(size.seed + 1)
    items = _stock_items(config, rng)
    first_day = NOW.date() - timedelta(days=size.days - 1)
    ledger_rows = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        for batch_start in range(0, size.days, BATCH_DAYS):
            with cursor.copy(f"COPY ledger ({', '.join(LEDGER_COLUMNS)}) FROM STDIN") as copy:
                for day in range(batch_start, min(batch_start + BATCH_DAYS, size.days)):
                    for row in _day_rows(items, day, day == size.days - 1, first_day, rng):
                        copy.write_row((*row[:7], bool(row[7]), row[8], 0))
                        ledger_rows += 1
            raw.commit()
            done = min(batch_start + BATCH_DAYS, size.days)
            print(f"  generated {ledger_rows:,} ledger rows, {done}/{size.days} days", flush=True)
        proposals = _proposal_rows(config, rng)
        with cursor.copy(f"COPY proposal ({', '.join(PROPOSAL_COLUMNS)}) FROM STDIN") as copy:
            for p in proposals:
                # as PROPOSAL_INSERT: the reason and an empty reject reason are literals there
                copy.write_row((*p[:4], bool(p[4]), p[5], "below_min", p[6], "", *p[7:]))
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")  # the planner must know the new rows
    generated = Generated(ledger_rows, len(proposals), time.perf_counter() - start)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {SIZE_TABLE} (size text, generated text)")
        conn.exec_driver_sql(
            f"INSERT INTO {SIZE_TABLE} VALUES (%(s)s, %(g)s)",
            {"s": json.dumps(asdict(size)), "g": json.dumps(asdict(generated))},
        )
    engine.dispose()
    return generated


def pg_prepare(url: str, size: Size) -> tuple[Generated, bool]:
    """The PostgreSQL database at `url` made for `size` (reused when it already is)."""
    stored = pg_stored_size(url)
    if stored is not None and stored["size"] == asdict(size):
        return Generated(**stored["generated"]), True  # type: ignore[arg-type]
    return pg_generate(url, size), False


def generate_apart(path: Path, size: Size) -> Generated:
    """`generate` in a child process, so that its large page cache and row batches do not
    count in this process's peak memory, which is then the review's."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(generate, path, size).result()


def prepare(keep: Path | None, workdir: Path, size: Size) -> tuple[Path, Generated, bool]:
    """The database to benchmark: `keep` when it was made for `size`, else a new one.

    Without `keep` the database is made in `workdir`. Returns its path, what generation
    produced, and whether it was reused. A kept database is generated under a temporary name
    and renamed when complete, so an interrupted run never leaves a half-made file that a
    later run would take for a finished one.
    """
    if keep is None:
        path = workdir / "bench.sqlite"
        return path, generate_apart(path, size), False
    meta = keep.with_name(keep.name + ".json")
    if keep.exists():
        stored = json.loads(meta.read_text()) if meta.exists() else None
        if stored is None or stored["size"] != asdict(size):
            sys.exit(
                f"{keep} exists but was not generated for {asdict(size)} (see {meta}); "
                "delete it or choose another --keep path"
            )
        return keep, Generated(**stored["generated"]), True
    partial = keep.with_name(keep.name + ".partial")
    for leftover in _sqlite_files(partial):
        leftover.unlink(missing_ok=True)
    generated = generate_apart(partial, size)
    partial.replace(keep)
    meta.write_text(json.dumps({"size": asdict(size), "generated": asdict(generated)}) + "\n")
    return keep, generated, False


def _sqlite_files(path: Path) -> list[Path]:
    """A SQLite database file with its WAL and shared-memory companions."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


# ---- what is timed ----


def floor_positions(engine: Engine) -> dict[ItemKey, int]:
    """Every counted item's position by the plain SQL aggregate `FLOOR_SQL`."""
    sql = FLOOR_SQL
    if engine.dialect.name == "postgresql":  # SQLite's two-argument MAX is GREATEST there
        sql = sql.replace("MAX(qty - received_qty, 0)", "GREATEST(qty - received_qty, 0)")
    with engine.connect() as conn:
        return {(a, s): int(p) for a, s, p in conn.exec_driver_sql(sql)}


def run_review(engine: Engine, config: Config) -> ReviewRun:
    """One full review of every agreement at NOW, timed to its last flush, then rolled back."""
    run: ReviewRun | None = None
    start = time.perf_counter()
    try:
        with transaction(engine) as session:
            results = review(session, config, NOW, platforms=PLATFORMS)
            session.flush()  # every row the commit would write is in the database now
            seconds = time.perf_counter() - start
            cards = session.scalar(select(func.count()).select_from(OutboxRow)) or 0
            run = ReviewRun(seconds, results, cards)
            raise _RollBack
    except _RollBack:
        pass
    assert run is not None
    return run


def timed(repeat: int, action: Callable[[], object]) -> list[float]:
    """Wall-clock seconds of `repeat` runs of `action`."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return seconds


def check_positions(
    floor: dict[ItemKey, int], results: Sequence[ReviewResult], items: int, run: int
) -> None:
    """Fail loudly unless the review decided on exactly the floor's position for every item.

    Every one of the `items` configured items has ledger rows, so both must cover them all.
    """
    decided = {(r.agreement_id, r.item.sku): r.decision.position for r in results}
    problems = []
    if not len(results) == len(decided) == len(floor) == items:
        problems.append(
            f"{items} items configured, {len(floor)} positions from the floor, "
            f"{len(results)} review results for {len(decided)} distinct items"
        )
    for key in sorted(floor.keys() | decided.keys()):
        if floor.get(key) != decided.get(key):
            problems.append(f"{key}: floor {floor.get(key)}, review {decided.get(key)}")
    if problems:
        print(f"FAIL: review run {run}: positions differ from the floor's:", file=sys.stderr)
        for line in problems[:20]:
            print(f"  {line}", file=sys.stderr)
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more", file=sys.stderr)
        raise SystemExit(1)


def profile_review(engine: Engine, config: Config, top: int = 30) -> str:
    """cProfile of one more review run: the `top` functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.runcall(run_review, engine, config)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ---- the command ----


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agreements", type=int, default=1000, help="agreements (1000)")
    parser.add_argument("--items", type=int, default=10, help="items per agreement (10)")
    parser.add_argument("--days", type=int, default=365, help="days of ledger per item (365)")
    parser.add_argument("--keep", type=Path, help="database file to reuse, made if missing")
    parser.add_argument("--db", help="a PostgreSQL URL to use instead of a SQLite file")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (1)")
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of one more review"
    )
    args = parser.parse_args(argv)
    if min(args.agreements, args.items, args.days, args.repeat) < 1:
        parser.error("--agreements, --items, --days and --repeat must be at least 1")
    return args


def _seconds(values: Sequence[float]) -> str:
    """Best and median of timings."""
    return f"best {min(values):.3f} s, median {statistics.median(values):.3f} s"


def main(argv: Sequence[str] | None = None) -> int:
    """Generate or reuse the database, time floor and review, check them, print the figures."""
    args = parse_args(argv)
    register_audiences()  # the review announces its proposals, as at `vmi-bot` start
    size = Size(args.agreements, args.items, args.days)
    print(f"size: {size.agreements} agreements x {size.items} items x {size.days} days")
    start = time.perf_counter()
    config = build_config(size)
    items = sum(len(a.items) for a in config.agreements)
    print(f"config parse: {time.perf_counter() - start:.3f} s")
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="vmi-bench-")))
        if args.db:
            generated, reused = pg_prepare(args.db, size)
            url = args.db
            print(f"database: {make_url(url).render_as_string(hide_password=True)}")
        else:
            path, generated, reused = prepare(args.keep, workdir, size)
            url = f"sqlite:///{path}"
        if reused:
            print(f"database: reused {url if not args.db else 'as generated'}")
            print(f"generation time: {generated.seconds:.1f} s (when it was made)")
        else:
            print(f"database: {url if not args.db else 'generated'}")
            print(f"generation time: {generated.seconds:.1f} s")
            if not args.db:  # on PostgreSQL it ran in this process
                child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(f"peak memory of generation (child process): {child_peak:,.0f} MiB")
        print(f"ledger rows: {generated.ledger_rows:,}")
        print(f"proposal rows: {generated.proposal_rows:,}")
        engine = make_engine(url)
        with engine.connect() as conn:
            bytes_ = (
                conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
                if args.db
                else Path(make_url(url).database or "").stat().st_size
            )
        print(f"database size: {int(bytes_ or 0) / 2**20:,.0f} MiB")
        cleanup.callback(engine.dispose)
        floor: dict[ItemKey, int] = {}
        floor_s = timed(args.repeat, lambda: floor.update(floor_positions(engine)))
        runs = [run_review(engine, config) for _ in range(args.repeat)]
        for number, run in enumerate(runs, 1):
            check_positions(floor, run.results, items, number)
        made = [sum(r.decision.action == "propose" for r in run.results) for run in runs]
        cards = [run.cards for run in runs]
        if len(set(made)) != 1 or cards != made:
            print(f"FAIL: proposals made per run {made}, cards queued {cards}", file=sys.stderr)
            return 1
        profile = profile_review(engine, config) if args.profile else ""

    review_s = [run.seconds for run in runs]
    print(
        f"repeats: {args.repeat} (each review in bot.storage.db.transaction, rolled back after its"
    )
    print("  final flush, so every repeat reviews the same state)")
    print(f"items reviewed: {len(runs[0].results):,}")
    print("positions: review equals floor for every item")
    print(f"floor: {_seconds(floor_s)}")
    print(f"review: {_seconds(review_s)}")
    ratio = min(review_s) / min(floor_s)
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio review/floor (best): {ratio:.1f}x (target {TARGET_RATIO:g}x: {verdict})")
    median_ratio = statistics.median(review_s) / statistics.median(floor_s)
    target = PG_TARGET_RATIO if args.db else TARGET_RATIO
    verdict = "met" if median_ratio <= target else "NOT met"
    print(f"ratio review/floor (median): {median_ratio:.1f}x (target {target:g}x: {verdict})")
    print(f"proposals made: {made[0]:,} (one console card each)")
    print(f"peak memory (this process: config, floor, review): {peak_memory_mib():,.0f} MiB")
    if profile:
        print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
