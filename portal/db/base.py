"""The declarative base every model derives from.

advanced-alchemy's ``UUIDv7AuditBase`` gives a time-ordered UUID primary key and
``created_at``/``updated_at`` columns in UTC, with a constraint naming convention
shared by SQLite and PostgreSQL so Alembic renders stable names.
"""

from __future__ import annotations

from enum import StrEnum

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from sqlalchemy import JSON, Enum
from sqlalchemy.dialects.postgresql import JSONB

Base = UUIDv7AuditBase
metadata = orm_registry.metadata

# advanced-alchemy's JsonB relies on an API SQLAlchemy 2.1 removed; the variant does the same job.
JsonB = JSON().with_variant(JSONB(), "postgresql")


def string_enum(enum: type[StrEnum], length: int = 16) -> Enum:
    """A column of ``enum``'s values stored as plain strings (no database enum type to migrate)."""
    return Enum(enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


__all__ = ["Base", "JsonB", "metadata", "string_enum"]
