"""The database: where it is, how to connect, and one transaction at a time.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every write
transaction starts with BEGIN IMMEDIATE so that two writers queue up instead of failing on a
lock upgrade (a single statement, `one_statement`, is a transaction of its own).
PostgreSQL comes in through `DATABASE_URL`.

A database that cannot keep what is written to it (its SQLite file deleted or replaced under
the running process, read-only, full, gone away) raises `StoreUnavailable` from every
transaction, so nothing is acknowledged that would be lost; `check_writable` is the health
check's real write.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    String,
    column,
    create_engine,
    event,
    insert,
    table,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

if TYPE_CHECKING:  # the DB-API connection of the embedded database, as pysqlite hands it over
    import sqlite3

DEFAULT_SQLITE_FILE = "vmi-bot.sqlite"
SQLITE_BUSY_TIMEOUT_MS = 15_000
DEFERRED = "vmi_deferred_begin"  # an execution option: begin without taking the write lock
AUTOCOMMIT = "vmi_autocommit"  # an execution option: no BEGIN, each statement commits itself
READ_ONLY, FULL, UNREACHABLE = "database is read-only", "database is full", "database is gone"
CANNOT_WRITE = "database cannot be written"
# SQLite's primary result codes that say the file cannot take writes (a busy or locked database
# is only a moment's wait, not this).
SQLITE_UNWRITABLE = {8: READ_ONLY, 13: FULL, 10: CANNOT_WRITE, 11: CANNOT_WRITE,
                     14: CANNOT_WRITE, 26: CANNOT_WRITE}  # fmt: skip
# PostgreSQL's SQLSTATE codes and classes for the same.
PG_UNWRITABLE = {"25006": READ_ONLY, "53": FULL, "08": UNREACHABLE, "57P": UNREACHABLE,
                 "58": CANNOT_WRITE}  # fmt: skip
HEALTH_FILLER = 2 * 4096  # the probe's row needs new pages, as any growth of a full file would


class StoreUnavailable(DBAPIError):
    """The database cannot keep what would be written now: nothing may be acknowledged.

    A `DBAPIError`, so code that lets a failing database's errors through (the message waits
    for the next try) lets this through too. `reason` is short and safe to show anyone (the
    health check says it); `note` is for the log.
    """

    def __init__(self, reason: str, note: str = "") -> None:
        super().__init__(None, None, OSError(reason), code=None)
        self.reason = reason
        self.note = note

    def __str__(self) -> str:
        return f"{self.reason}: {self.note}" if self.note else self.reason

    def __reduce__(self) -> tuple[type[StoreUnavailable], tuple[str, str]]:
        return (StoreUnavailable, (self.reason, self.note))


@dataclass
class _SQLiteFile:
    """The file an engine opened first: a path now naming another file (or none) means the
    process writes into a file no one will open again."""

    path: Path
    opened: tuple[int, int] | None = None


_files: weakref.WeakKeyDictionary[Engine, _SQLiteFile] = weakref.WeakKeyDictionary()


def _identity(path: Path) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


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
    """An engine for `url`; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE transactions
    (but for `one_statement`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    on_disk = bool(parsed.database) and parsed.database != ":memory:"
    if on_disk and not (parsed.query.get("uri") or str(parsed.database).startswith("file:")):
        _files[engine] = _SQLiteFile(Path(str(parsed.database)))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see "begin" below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if on_disk:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        file = _files.get(engine)
        if file is not None and file.opened is None:  # the first file opened is the one
            file.opened = _identity(file.path)

    @event.listens_for(engine, "do_connect")
    def _before_connect(*_: object) -> None:
        # connecting to a path whose file was deleted would make a new, empty one there
        _check_file(engine)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers (status, health checks) begin deferred, so WAL lets them run beside a writer;
        # a single statement (`one_statement`) is a transaction of its own.
        options = conn.get_execution_options()
        if options.get(AUTOCOMMIT, False):
            return
        conn.exec_driver_sql("BEGIN" if options.get(DEFERRED, False) else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back if it raises.

    `read_only` work on SQLite does not queue behind writers (it must not write).
    Raises `StoreUnavailable` when the database cannot keep what is written.
    """
    bind = engine.execution_options(**{DEFERRED: True}) if read_only else engine
    writers = _writer_turns(engine) if not read_only else nullcontext()
    with (
        _unavailable_raised(engine),
        writers,
        Session(bind, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


def insert_skipping(dialect: str, table: type[SQLModel], *unique: str) -> Insert:
    """An INSERT into `table` that skips a row whose `unique` columns are taken already
    (ON CONFLICT DO NOTHING), as `dialect` ("postgresql" or "sqlite") spells it."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=list(unique))


def plain(session: Session) -> Connection:
    """The session's connection, for statements that need no ORM objects back: they skip the
    ORM's work per statement (about 0.15 ms, as much as SQLite's own). What was added to the
    session is flushed first, so they see it as the ORM's own queries would."""
    session.flush()
    return session.connection()


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A plain connection in one write transaction, for the few hot writes that need no ORM.

    Raises `StoreUnavailable` when the database cannot keep what is written.
    """
    with _unavailable_raised(engine), _writer_turns(engine), engine.begin() as connection:
        yield connection


@contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A plain connection for a single write statement that commits by itself: the message a
    platform's request stores. Without BEGIN and COMMIT around it the request makes one call
    to the database instead of three (on PostgreSQL two round trips, with the pool's ping,
    instead of four), each a wait for the interpreter after it. SQLite's writers of this
    process still take turns. Run one statement in it, not more: two would not be one
    transaction.

    Raises `StoreUnavailable` when the database cannot keep what is written.
    """
    level = {AUTOCOMMIT: True} if is_sqlite(engine) else {"isolation_level": "AUTOCOMMIT"}
    with (
        _unavailable_raised(engine),
        _writer_turns(engine),
        engine.connect().execution_options(**level) as connection,
    ):
        yield connection
        connection.commit()  # nothing left to commit: the statement did


def check_writable(engine: Engine, now: datetime) -> None:
    """Write to the database as the bot would, or raise `StoreUnavailable` saying why not.

    One committed heartbeat row (a write that reaches the file), and in a savepoint rolled back
    a row that needs pages the file does not have yet (a full disk or file says so here).
    Cheap enough to be called every few seconds.
    """
    health = table("health", column("id"), column("beat_at"), column("filler"))
    at = UTCDateTime().process_bind_param(now, engine.dialect)
    with write_connection(engine) as connection:
        beat = connection.execute(update(health).where(health.c.id == 1).values(beat_at=at))
        if beat.rowcount == 0:
            connection.execute(insert(health).values(id=1, beat_at=at, filler=""))
        growth = connection.begin_nested()
        connection.execute(insert(health).values(id=2, beat_at=at, filler="x" * HEALTH_FILLER))
        growth.rollback()


@contextmanager
def _unavailable_raised(engine: Engine) -> Iterator[None]:
    """Check the SQLite file is still the one opened once the transaction is over (a file
    deleted before or while it ran took what was written along; a new connection checks it
    before it opens the path); turn a database's "cannot write" errors into
    `StoreUnavailable`."""
    try:
        yield
    except StoreUnavailable:
        raise
    except DBAPIError as err:
        reason = _unwritable(err)
        if reason is None:
            raise
        raise StoreUnavailable(reason, str(err.orig)) from err
    _check_file(engine)


def _check_file(engine: Engine) -> None:
    file = _files.get(engine)
    if file is None or file.opened is None:
        return
    try:
        now = _identity(file.path)
    except FileNotFoundError:
        raise StoreUnavailable(UNREACHABLE, f"the file {file.path} was deleted") from None
    if now != file.opened:
        # a new file there has none of this process's history: restart to use it knowingly
        raise StoreUnavailable("database file replaced", f"{file.path} is another file now")


def _unwritable(err: DBAPIError) -> str | None:
    """Why the database cannot take writes, when that is what `err` says; else None."""
    orig = err.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return SQLITE_UNWRITABLE.get(code & 0xFF)
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        return next((why for start, why in PG_UNWRITABLE.items() if state.startswith(start)), None)
    if err.connection_invalidated or type(orig).__name__ == "OperationalError":
        return UNREACHABLE  # no connection at all (refused, reset, timed out)
    return None


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
