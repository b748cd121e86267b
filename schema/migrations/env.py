"""Alembic environment: the URL comes from the settings (or an engine passed by `schema.migrate`)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import schema.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from schema.engine import make_engine
from schema.migrate import include_object

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from normbank.config import get_settings

        engine = make_engine(get_settings().resolved_database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=include_object,
            compare_type=True,
        )
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
