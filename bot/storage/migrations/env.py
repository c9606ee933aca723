"""Alembic environment: migrations run on the connection the bot hands over (see migrate.py)."""

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool
from sqlalchemy.schema import SchemaItem
from sqlmodel import SQLModel

import bot.storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata

# Tables that others own in the same database (apscheduler's job store).
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # plain `alembic` on the command line, with sqlalchemy.url set
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        run(conn)
