"""Schema migrations: the bot applies pending ones at start, so an upgrade keeps the data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:  # alembic is loaded only when there is something to migrate
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a test checks it against alembic's head): a
# database already there starts without loading alembic at all.
HEAD = "0014"
# Any constant will do; it only has to be the same in every process of this bot.
MIGRATION_LOCK_KEY = 0x564D4901


def alembic_config() -> AlembicConfig:
    """Alembic's configuration without an ini file: the scripts live in migrations/."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for a new database."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema up to the newest revision (a no-op when it already is)."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting together must not both run the same migration.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
