"""Run Alembic migrations from code (CLI, start-up, tests)."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.types import GUID
from alembic import command
from alembic.config import Config

from portal.settings import ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision``. Blocking: call it from a thread inside an event loop."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new revision from the models."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)


def compare_type(
    context: Any, _inspected_column: Any, _metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Alembic type comparison that knows SQLite cannot reflect the UUID column's BINARY(16).

    SQLAlchemy's SQLite dialect reads an unknown ``BINARY`` declaration back as NUMERIC;
    the column is still the 16-byte GUID advanced-alchemy declared. Elsewhere the default
    comparison applies (None).
    """
    if context.dialect.name == "sqlite" and isinstance(metadata_type, GUID):
        return type(inspected_type).__name__ not in {"NUMERIC", "BINARY", "BLOB"}
    return None
