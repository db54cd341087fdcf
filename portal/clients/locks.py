"""A dossier's row lock: what serialises the writes that must see a dossier's rows as a whole (an import's
activation, the figures' refresh, the saving of its objectives or budget)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.models import Dossier


async def lock_dossier(session: AsyncSession, dossier_id: uuid.UUID) -> None:
    """Hold the dossier's row until the transaction ends (PostgreSQL; SQLite's writers are serial already)."""
    statement = select(Dossier.id).where(Dossier.id == dossier_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    await session.execute(statement)
