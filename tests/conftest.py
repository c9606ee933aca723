"""Shared fixtures: a real database per test, on SQLite and (when TEST_DATABASE_URL is set) on
PostgreSQL, migrated and loaded with the example agreement."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.storage.db import resolve_database_url
from tests.group_chat import rt, rt_en  # noqa: F401  (fixtures for the conversation tests)
from tests.support import EXAMPLE

# A deadline per example is a timed assertion: on a loaded machine it fails what is correct.
settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")


@pytest.fixture(scope="session")
def postgres_server_url() -> str | None:
    """The PostgreSQL server for storage tests, from TEST_DATABASE_URL (CI starts one)."""
    url = os.environ.get("TEST_DATABASE_URL")
    return resolve_database_url(url) if url else None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vmi.sqlite'}"
        return
    with new_postgres_database(request.getfixturevalue("postgres_server_url")) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (for tests of several processes sharing one)."""
    with new_postgres_database(postgres_server_url) as url:
        yield url


@contextmanager
def new_postgres_database(server: str | None) -> Iterator[str]:
    """Create a database of its own on the test server, and drop it afterwards."""
    if server is None:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it; see .ci/run)")
    name = f"vmi_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    """The example agreement on a migrated database, as every command starts."""
    started = start(str(EXAMPLE), database_url)
    try:
        yield started
    finally:
        started.engine.dispose()
