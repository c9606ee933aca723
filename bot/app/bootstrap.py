"""What every command starts from: the checked configuration and a migrated, synced database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.adapters.console.audience import AUDIENCE as CONSOLE_AUDIENCE
from bot.adapters.dingtalk.audience import AUDIENCE as DINGTALK_AUDIENCE
from bot.adapters.feishu.audience import AUDIENCE as FEISHU_AUDIENCE
from bot.adapters.slack.audience import AUDIENCE as SLACK_AUDIENCE
from bot.adapters.wecom.audience import AUDIENCE as WECOM_AUDIENCE
from bot.adapters.wecom_robot.audience import AUDIENCE as WECOM_ROBOT_AUDIENCE
from bot.config import load_config, resolve_config_path
from bot.runtime.context import Runtime
from bot.services import announce
from bot.services.terms import announce_file_wins
from bot.settings import Settings, secret
from bot.storage.catalog import sync_catalog
from bot.storage.db import make_engine, resolve_database_url, transaction
from bot.storage.migrate import upgrade

Say = Callable[[str], None]
URL_EXAMPLES = "sqlite:///path/file.sqlite or postgresql://user:pass@host/db"


class StartRefused(Exception):
    """A command cannot start; the message is the one line the user reads."""


def _quiet(_line: str) -> None:
    pass


def database_url(db_arg: str | None, from_env: str | None) -> str:
    """The database URL to use, checked enough to say what is wrong in one line."""
    url = resolve_database_url(db_arg, from_env)
    try:
        parsed = make_url(url)
    except Exception as err:  # sqlalchemy's ArgumentError; the text may hold a password
        raise StartRefused(
            "cannot use the database URL (--db or $DATABASE_URL): it does not read as one; "
            f"a URL looks like {URL_EXAMPLES}"
        ) from err
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).resolve().parent
        if not folder.is_dir():
            raise StartRefused(
                f"cannot open the SQLite file {parsed.database}: the folder {folder} does not "
                f"exist (a URL looks like {URL_EXAMPLES})"
            )
    return url


def start(
    config_arg: str | None = None,
    db_arg: str | None = None,
    settings: Settings | None = None,
    say: Say = _quiet,
    now: datetime | None = None,
) -> Runtime:
    """Load and check the configuration, migrate the database and load the catalog into it;
    let announcements reach every platform the bot has an adapter for.

    `settings` are what `vmi-bot` read from the environment (none: no platform but the console,
    no `$VMI_CONFIG`, no `$DATABASE_URL`). `say` hears the one-line notes a person should see
    (which file, a database made anew). `now` dates what start-up announces (default: the
    clock). Raises `ConfigError` for a bad configuration file and
    `StartRefused` for a database that cannot be used.
    """
    settings = Settings() if settings is None else settings
    register_audiences()
    config = load_config(resolve_config_path(config_arg, settings.vmi_config, say))
    url = database_url(db_arg, secret(settings.database_url) or None)
    parsed = make_url(url)
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    new_file = (
        Path(sqlite_file)
        if sqlite_file and sqlite_file != ":memory:" and not Path(sqlite_file).exists()
        else None
    )
    try:
        engine = make_engine(url)
    except (ValueError, ImportError) as err:  # a driver we do not ship, a bad port
        shown = parsed.render_as_string(hide_password=True)
        why = "only SQLite and PostgreSQL are supported" if isinstance(err, ImportError) else err
        raise StartRefused(
            f"cannot use the database URL {shown} (--db or $DATABASE_URL): {why}; a URL looks "
            f"like {URL_EXAMPLES}"
        ) from err
    upgrade(engine)
    with transaction(engine) as session:
        sync_catalog(session, config)
        # an agreed figure the file has changed since: the file wins, said once
        announce_file_wins(session, config, now or datetime.now(UTC), settings.platforms_on)
    if new_file is not None:
        say(f"vmi-bot: new database {new_file.resolve()}")
    return Runtime(config, engine, settings)


def register_audiences() -> None:
    """Let announcements reach every platform the bot has an adapter for, each its own way."""
    # the order is the order a proposal's cards are queued in
    announce.register(CONSOLE_AUDIENCE, SLACK_AUDIENCE, WECOM_AUDIENCE, FEISHU_AUDIENCE)
    announce.register(DINGTALK_AUDIENCE)
    announce.register(WECOM_ROBOT_AUDIENCE)
