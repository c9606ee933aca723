"""Schema migrations: the bot applies pending ones at start, so an upgrade keeps the data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do; it only has to be the same in every process of this bot.
MIGRATION_LOCK_KEY = 0x564D4901


def alembic_config() -> AlembicConfig:
    """Alembic's configuration without an ini file: the scripts live in bot/migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema up to the newest revision (a no-op when it already is)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting together must not both run the same migration.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
