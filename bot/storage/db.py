"""The database: where it is, how to connect, and one transaction at a time.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every transaction
starts with BEGIN IMMEDIATE so that two writers queue up instead of failing on a lock upgrade.
PostgreSQL comes in through `DATABASE_URL`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, DateTime, Dialect, Engine, String, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

if TYPE_CHECKING:  # the DB-API connection of the embedded database, as pysqlite hands it over
    import sqlite3

DEFAULT_SQLITE_FILE = "vmi-bot.sqlite"
SQLITE_BUSY_TIMEOUT_MS = 15_000
DEFERRED = "vmi_deferred_begin"  # an execution option: begin without taking the write lock


def resolve_database_url(arg: str | None, from_env: str | None = None) -> str:
    """`--db URL`, else `$DATABASE_URL` (`from_env`, as the settings read it), else SQLite in
    the working folder."""
    url = arg or from_env or f"sqlite:///{Path(DEFAULT_SQLITE_FILE)}"
    # Heroku-style URLs name the scheme "postgres"; psycopg 3 is the driver we ship.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite database."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see "begin" below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers (status, health checks) begin deferred, so WAL lets them run beside a writer.
        deferred = conn.get_execution_options().get(DEFERRED, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back if it raises.

    `read_only` work on SQLite does not queue behind writers (it must not write).
    """
    bind = engine.execution_options(**{DEFERRED: True}) if read_only else engine
    writers = _writer_turns(engine) if not read_only else nullcontext()
    with writers, Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A plain connection in one write transaction, for the few hot writes that need no ORM."""
    with _writer_turns(engine), engine.begin() as connection:
        yield connection


_turns: dict[str, threading.RLock] = {}
_turns_guard = threading.Lock()


def _writer_turns(engine: Engine) -> AbstractContextManager[object]:
    """SQLite writers of this process take turns here, in order, instead of in SQLite's busy
    handler, which sleeps up to 100 ms between tries and makes the slowest answers slow."""
    if not is_sqlite(engine):
        return nullcontext()
    with _turns_guard:
        return _turns.setdefault(str(engine.url.database), threading.RLock())


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """Money kept exactly as text, so SQLite does not round it through a float."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
