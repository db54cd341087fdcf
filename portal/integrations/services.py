"""What every source's services share: the connection row taken or made at connection, pasted
secrets checked and hinted at, the refusal a page shows beside its form.

Credentials are written by the services and read by the jobs only; no page ever receives them.
Every outside call happens in a worker.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.policy import Principal
from portal.clients.models import Dossier
from portal.i18n import gettext
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider


class ConnectionRequestError(ValueError):
    """A request about a connection that cannot be done; ``message`` is a French msgid, ``params`` what
    fills it (a source's name, the last characters of a key)."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def text(self) -> str:
        """The sentence to show, in the current language."""
        return gettext(self.message) % self.params if self.params else gettext(self.message)


def check_pasted(secret: str, *, shortest: int, too_short: str, spaces: str) -> str:
    """A pasted token or key, trimmed, or ``ConnectionRequestError`` with what is wrong with it."""
    secret = secret.strip()
    if any(character.isspace() for character in secret):
        raise ConnectionRequestError(spaces)
    if len(secret) < shortest:
        raise ConnectionRequestError(too_short)
    return secret


def hint(token: str) -> str:
    """What a page may show of a secret: its last four characters."""
    return "…" + token[-4:]


async def connect(
    session: AsyncSession, principal: Principal, dossier: Dossier, provider: Provider, method: AuthMethod
) -> Connection:
    """The connection row of (dossier, provider), taken or created, marked connected by ``principal``.

    Shared by every provider: a row created meanwhile from another tab is taken instead of
    failing, and the credentials version moves on, so a token refresh still running for the
    previous authorisation never overwrites the new one. The caller stores the credentials.
    """
    statement = select(Connection).where(Connection.dossier_id == dossier.id, Connection.provider == provider)
    connection = (await session.execute(statement)).scalar_one_or_none()
    if connection is None:
        connection = Connection(dossier_id=dossier.id, provider=provider, auth_method=method)
        try:
            async with session.begin_nested():
                session.add(connection)
                await session.flush()
        except IntegrityError:  # connected from another tab a moment ago: take that row
            connection = (await session.execute(statement)).scalar_one()
    connection.auth_method = method
    connection.status = ConnectionStatus.CONNECTED
    connection.connected_by_id = principal.user_id
    connection.connected_at = dt.datetime.now(dt.UTC)
    connection.last_error = None
    connection.credentials_version += 1
    return connection
