"""Persistence: SQLModel tables, the engine/session factory, queries and Alembic migrations."""

__distribution__ = "normbank"  # tests assert this, so a same-named package from PyPI cannot shadow ours
