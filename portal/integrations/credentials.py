"""Saving the rotating OAuth token pairs of source connections, shared by Pennylane and POS / e-commerce.

A refresh at the provider kills the old refresh token at once, so the new pair must be
stored right away; the update is guarded by the credentials version, so a refresh racing a
reconnection never overwrites the newer authorisation, and each save moves the version on
for the next one made by the same client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update

from portal.integrations.models import Connection
from portal.jobs.context import JobContext


def token_saver(ctx: JobContext, connection: Connection) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """Persist a refreshed token pair at once (the old refresh token is already dead at the provider)."""
    version = {"current": connection.credentials_version}

    async def save(token: dict[str, Any]) -> None:
        async with ctx.session() as session, session.begin():
            result = await session.execute(
                update(Connection)
                .where(Connection.id == connection.id, Connection.credentials_version == version["current"])
                .values(credentials={"token": dict(token)}, credentials_version=version["current"] + 1)
            )
        if result.rowcount:  # type: ignore[attr-defined]
            version["current"] += 1

    return save
