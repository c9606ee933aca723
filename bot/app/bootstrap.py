"""What every command starts from: the checked configuration and a migrated, synced database."""

from __future__ import annotations

from bot.adapters.console.audience import AUDIENCE as CONSOLE_AUDIENCE
from bot.adapters.slack.audience import AUDIENCE as SLACK_AUDIENCE
from bot.adapters.wecom.audience import AUDIENCE as WECOM_AUDIENCE
from bot.config import load_config, resolve_config_path
from bot.runtime.context import Runtime
from bot.services import announce
from bot.settings import Settings, secret
from bot.storage.catalog import sync_catalog
from bot.storage.db import make_engine, resolve_database_url, transaction
from bot.storage.migrate import upgrade


def start(
    config_arg: str | None = None, db_arg: str | None = None, settings: Settings | None = None
) -> Runtime:
    """Load and check the configuration, migrate the database and load the catalog into it;
    let announcements reach every platform the bot has an adapter for.

    `settings` are what `vmi-bot` read from the environment (none: no platform but the console,
    no `$VMI_CONFIG`, no `$DATABASE_URL`). Raises `ConfigError` for a bad configuration file
    and `ValueError` for a database URL that cannot be used.
    """
    settings = Settings() if settings is None else settings
    register_audiences()
    config = load_config(resolve_config_path(config_arg, settings.vmi_config))
    try:
        engine = make_engine(resolve_database_url(db_arg, secret(settings.database_url) or None))
    except (ValueError, ImportError) as err:  # the URL itself, or a driver we do not ship
        raise ValueError(f"cannot use the database URL (--db or $DATABASE_URL): {err}") from err
    upgrade(engine)
    with transaction(engine) as session:
        sync_catalog(session, config)
    return Runtime(config, engine, settings)


def register_audiences() -> None:
    """Let announcements reach every platform the bot has an adapter for, each its own way."""
    # the order is the order a proposal's cards are queued in
    announce.register(CONSOLE_AUDIENCE, SLACK_AUDIENCE, WECOM_AUDIENCE)
