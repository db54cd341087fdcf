"""A dossier's Pennylane connection: connecting (OAuth or a personal token), choosing fiscal years,
importing them, disconnecting.

Credentials are written here and read by the jobs only; no page ever receives them.
Every outside call (fiscal years, exports, revocation) happens in a worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients.models import Dossier
from portal.i18n import N_
from portal.integrations.models import AuthMethod, Connection, ConnectionStatus, Provider
from portal.integrations.pennylane import tasks
from portal.integrations.pennylane.client import PennylaneClient
from portal.integrations.pennylane.errors import AuthorizationLost, MissingScope, PennylaneError
from portal.integrations.services import ConnectionRequestError, check_pasted, connect, hint
from portal.jobs.models import JobRun
from portal.settings import Settings

log = logging.getLogger(__name__)

TOKEN_TOO_SHORT = N_("Collez le jeton tel que Pennylane l'a affiché : il est trop court pour être un jeton d'API.")
TOKEN_SPACES = N_("Un jeton d'API ne contient pas d'espace : vérifiez ce qui a été collé.")
NO_YEARS = N_("Choisissez au moins un exercice à importer.")
UNKNOWN_YEAR = N_("Cet exercice n'est pas proposé par Pennylane : actualisez la liste des exercices.")
TOKEN_REFUSED = N_(
    "Jeton refusé par Pennylane : le jeton se terminant par « %(end)s » n'est pas reconnu (supprimé, expiré ou "
    "copié en partie). Créez-en un dans Pennylane (Paramètres › Connectivité › Développeurs) et collez-le en "
    "entier. Rien n'a été enregistré."
)
TOKEN_SCOPE = N_(
    "Ce jeton Pennylane ne donne pas accès aux exercices : créez-en un avec les droits « Exercices » en lecture et "
    "« Export FEC », puis collez-le. Rien n'a été enregistré."
)
PENNYLANE_DOWN = N_(
    "Pennylane ne répond pas pour le moment : le jeton n'a pas pu être vérifié et rien n'a été enregistré. "
    "Réessayez dans quelques minutes."
)
NOT_CONNECTED = N_("Pennylane n'est pas connecté à ce dossier : connectez-le d'abord.")


@dataclass(frozen=True)
class FiscalYearChoice:
    id: str
    start: dt.date
    end: dt.date
    status: str
    imported: bool

    @property
    def closed(self) -> bool:
        return self.status in {"closed", "frozen"}


def check_api_token(token: str) -> str:
    """A pasted Pennylane token (no provider issues tokens shorter than 20 characters)."""
    return check_pasted(token, shortest=20, too_short=TOKEN_TOO_SHORT, spaces=TOKEN_SPACES)


async def try_api_token(settings: Settings, token: str) -> None:
    """Ask Pennylane for the company's fiscal years with ``token``, or ``ConnectionRequestError`` saying why
    it cannot be used: refused (401), without the fiscal years' right (403), or Pennylane unreachable."""
    try:
        async with PennylaneClient(settings, api_token=token, max_retries_on_429=0) as client:
            await client.fiscal_years()
    except AuthorizationLost as refused:
        log.info("Pennylane refused a pasted token: %s", refused.detail)
        raise ConnectionRequestError(TOKEN_REFUSED, end=hint(token)) from None
    except MissingScope as narrow:
        log.info("A pasted Pennylane token lacks a scope: %s", narrow.detail)
        raise ConnectionRequestError(TOKEN_SCOPE) from None
    except PennylaneError as down:
        log.warning("Pennylane could not check a pasted token: %s", down.detail)
        raise ConnectionRequestError(PENNYLANE_DOWN) from None


class PennylaneService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _visible(self, principal: Principal, permission: Permission) -> Any:
        return restrict(select(Connection), principal, permission, Connection)

    async def pennylane(
        self, principal: Principal, dossier_id: uuid.UUID, permission: Permission = Permission.LEDGER_READ
    ) -> Connection | None:
        statement = self._visible(principal, permission).where(
            Connection.dossier_id == dossier_id, Connection.provider == Provider.PENNYLANE
        )
        connection: Connection | None = (await self.session.execute(statement)).scalar_one_or_none()
        return connection

    async def connected_pennylane(self, principal: Principal, dossier_id: uuid.UUID) -> Connection:
        connection = await self.pennylane(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            raise ConnectionRequestError(NOT_CONNECTED)
        return connection

    async def _upsert(self, principal: Principal, dossier: Dossier, method: AuthMethod) -> Connection:
        connection = await connect(self.session, principal, dossier, Provider.PENNYLANE, method)
        connection.fiscal_years = None
        connection.fiscal_years_checked_at = None
        return connection

    async def save_oauth(self, principal: Principal, dossier: Dossier, token: dict[str, Any]) -> Connection:
        """The authorisation Pennylane just granted (the callback); the fiscal years are fetched next."""
        connection = await self._upsert(principal, dossier, AuthMethod.OAUTH)
        connection.credentials = {"token": token}
        connection.token_hint = None
        await self.session.flush()
        await self.request_fiscal_years(principal, connection)
        return connection

    async def save_api_token(
        self, settings: Settings, principal: Principal, dossier: Dossier, token: str
    ) -> Connection:
        """A personal API token pasted once, tried at Pennylane first: kept (encrypted) only once Pennylane
        answered with the company's fiscal years; from now on pages show its last four characters at most.
        A token refused, without the rights, or that could not be checked leaves nothing behind."""
        token = check_api_token(token)
        await try_api_token(settings, token)
        connection = await self._upsert(principal, dossier, AuthMethod.API_TOKEN)
        connection.credentials = {"api_token": token}
        connection.token_hint = hint(token)
        await self.session.flush()
        await self.request_fiscal_years(principal, connection)
        return connection

    async def request_fiscal_years(self, principal: Principal, connection: Connection) -> JobRun:
        connection.fiscal_years_checked_at = None
        await self.session.flush()
        return await tasks.fiscal_years.options(
            created_by_id=principal.user_id, dossier_id=connection.dossier_id
        ).enqueue(self.session, connection_id=str(connection.id))

    def choices(self, connection: Connection, imported_ends: set[dt.date]) -> list[FiscalYearChoice]:
        """The fiscal years Pennylane offers, latest first, and whether each is already in the ledger."""
        choices = []
        for item in connection.fiscal_years or []:
            end = dt.date.fromisoformat(item["finish"])
            choices.append(
                FiscalYearChoice(
                    id=str(item["id"]), start=dt.date.fromisoformat(item["start"]), end=end,
                    status=str(item.get("status") or ""), imported=end in imported_ends,
                )
            )  # fmt: skip
        return sorted(choices, key=lambda choice: choice.start, reverse=True)

    async def request_import(self, principal: Principal, connection: Connection, year_ids: list[str]) -> JobRun:
        """Import the chosen fiscal years (ids among those Pennylane offered), one after the other."""
        offered = {str(item["id"]): item for item in connection.fiscal_years or []}
        if not year_ids:
            raise ConnectionRequestError(NO_YEARS)
        if any(year_id not in offered for year_id in year_ids):
            raise ConnectionRequestError(UNKNOWN_YEAR)
        years = sorted(
            ({"start": offered[year_id]["start"], "end": offered[year_id]["finish"]} for year_id in set(year_ids)),
            key=lambda year: year["start"],
        )
        return await tasks.import_fiscal_years.options(
            created_by_id=principal.user_id, dossier_id=connection.dossier_id
        ).enqueue(self.session, connection_id=str(connection.id), years=years)

    async def disconnect(self, principal: Principal, connection: Connection) -> None:
        """Stop using the connection now; a worker revokes the authorisation at Pennylane, then forgets it."""
        connection.status = ConnectionStatus.DISCONNECTED
        connection.fiscal_years = None
        await self.session.flush()
        await tasks.revoke.options(created_by_id=principal.user_id, dossier_id=connection.dossier_id).enqueue(
            self.session, connection_id=str(connection.id), version=connection.credentials_version
        )
