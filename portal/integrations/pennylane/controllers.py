"""A dossier's Pennylane connection: « Connecter Pennylane », a personal token, the fiscal years to
import, refreshing them, disconnecting; and the way back from Pennylane's consent page.

Connecting goes through OAuth 2.0 (authorisation code with PKCE, ``authorizations.Consent``):
the ``state`` and the PKCE verifier stay in the person's server-side session and never reach
the browser; the callback checks both before any token is asked for. A personal API token
is pasted once, stored encrypted, and never shown again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.engine import writes_on_get
from portal.i18n import _
from portal.integrations import authorizations
from portal.integrations.models import ConnectionStatus
from portal.integrations.page import ConnectionsPage
from portal.integrations.pennylane import oauth as pennylane_oauth
from portal.integrations.pennylane.errors import AuthorizationError
from portal.integrations.pennylane.services import PennylaneService
from portal.integrations.services import ConnectionRequestError
from portal.ledger import controllers as ledger_controllers
from portal.ledger.services import LedgerService
from portal.settings import Settings
from portal.web import forms
from portal.web.htmx import page_or_partial

READS = requires_somewhere(Permission.LEDGER_READ)
MANAGES = requires_somewhere(Permission.CONNECTIONS_MANAGE)
OAUTH_SESSION_KEY = "pennylane_oauth"
# Pennylane redirects the browser here (a GET) and the portal stores the authorisation: a GET that writes.
CALLBACK_PATH = writes_on_get("/connexions/pennylane/retour")


@dataclass
class TokenForm:
    """A Pennylane personal API token, pasted once."""

    jeton: str = forms.text(forms.SECRET_MAX_LENGTH)


@dataclass
class YearsForm:
    """« Sélectionnez les exercices à importer »: the ids of the fiscal years ticked."""

    exercice: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)


class PennylaneController(Controller):
    path = "/entreprises/{dossier_id:uuid}/connexions/pennylane"
    guards = (READS,)
    include_in_schema = False
    dependencies = ledger_controllers.DEPENDENCIES

    @post("/", guards=[MANAGES], name="integrations:pennylane_connect")
    async def connect_pennylane(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
    ) -> Redirect:
        """« Connecter Pennylane »: off to Pennylane's consent page, with a fresh state and PKCE challenge."""
        dossier = await dossiers.get_visible(principal_of(request), dossier_id, Permission.CONNECTIONS_MANAGE)
        start = pennylane_oauth.start_authorization(settings, PennylaneConsent.redirect_uri(settings))
        return PennylaneConsent.begin(request, start, dossier)

    @post("/jeton", guards=[MANAGES], name="integrations:pennylane_token", media_type=MediaType.HTML)
    async def save_token(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[TokenForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[PennylaneService],
        connections_page: NamedDependency[ConnectionsPage],
        settings: NamedDependency[Settings],
    ) -> Any:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        errors = forms.clip(data)
        if not errors:
            try:
                await connections.save_api_token(settings, principal, dossier, data.jeton)
            except ConnectionRequestError as refused:
                errors = {"jeton": refused.text()}  # in words already: it may quote the token's last characters
        if errors:
            return await connections_page.again(request, dossier, token_errors=errors, open_form="jeton")
        flash(request, _("Jeton enregistré. Il ne sera plus affiché."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions/pennylane/exercices", status_code=303)

    @get("/exercices", name="integrations:pennylane_years")
    async def fiscal_years(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[PennylaneService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """« Sélectionnez les exercices à importer »: what Pennylane holds, once a worker has asked it."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_READ)
        context = await _years_context(principal, dossier, connections, ledger)
        return page_or_partial(request, "integrations/fiscal_years.html", "integrations/_partials/years.html", context)

    @post("/exercices", guards=[MANAGES], name="integrations:pennylane_import", media_type=MediaType.HTML)
    async def import_years(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[YearsForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[PennylaneService],
        ledger: NamedDependency[LedgerService],
    ) -> Any:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        forms.clip(data)  # an id too long matches no fiscal year offered: the choice says so
        try:
            connection = await connections.connected_pennylane(principal, dossier.id)
            run = await connections.request_import(principal, connection, data.exercice)
        except ConnectionRequestError as refused:
            context = await _years_context(principal, dossier, connections, ledger, error=refused.message)
            return Template(template_name="integrations/fiscal_years.html", context=context, status_code=422)
        flash(request, _("Import demandé : suivez son avancement ci-dessous."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions?travail={run.id}#imports", status_code=303)

    @post("/actualiser", guards=[MANAGES], name="integrations:pennylane_refresh")
    async def refresh_years(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[PennylaneService],
    ) -> Redirect:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        connection = await connections.pennylane(principal, dossier.id, Permission.CONNECTIONS_MANAGE)
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            raise NotFoundException
        await connections.request_fiscal_years(principal, connection)
        return Redirect(f"/entreprises/{dossier.id}/connexions/pennylane/exercices", status_code=303)

    @post("/deconnecter", guards=[MANAGES], name="integrations:pennylane_disconnect")
    async def disconnect(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[PennylaneService],
    ) -> Redirect:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        connection = await connections.pennylane(principal, dossier.id, Permission.CONNECTIONS_MANAGE)
        if connection is None:
            raise NotFoundException
        await connections.disconnect(principal, connection)
        flash(request, _("Pennylane est déconnecté de ce dossier."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions", status_code=303)


async def _years_context(
    principal: Principal,
    dossier: Dossier,
    connections: PennylaneService,
    ledger: LedgerService,
    *,
    error: str | None = None,
) -> dict[str, Any]:
    connection = await connections.pennylane(principal, dossier.id)
    imported = {year.end_date for year in await ledger.fiscal_years(principal, dossier.id)}
    choices = connections.choices(connection, imported) if connection else []
    waiting = (
        connection is not None
        and connection.status is ConnectionStatus.CONNECTED
        and (connection.fiscal_years_checked_at is None)
    )
    return {"dossier": dossier, "connection": connection, "choices": choices, "waiting": waiting, "error": error,
            "can_manage": principal.can(Permission.CONNECTIONS_MANAGE, dossier.id)}  # fmt: skip


class PennylaneConsent(authorizations.Consent):
    """Pennylane's consent: the connection is stored, then the accountant chooses the fiscal years."""

    path = CALLBACK_PATH
    session_key = OAUTH_SESSION_KEY
    provider = pennylane_oauth.PROVIDER
    refusals = AuthorizationError

    def __init__(self, connections: PennylaneService) -> None:
        self.connections = connections

    async def connected(
        self, request: Request[Any, Any, Any], principal: Principal, dossier: Dossier,
        started: dict[str, str],  # noqa: ARG002 - what Pennylane's consent kept is only the dossier
        token: dict[str, Any],
    ) -> Redirect:  # fmt: skip
        await self.connections.save_oauth(principal, dossier, token)
        flash(request, _("Pennylane est connecté. Choisissez les exercices à importer."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions/pennylane/exercices", status_code=303)


def provide_consent(connections: NamedDependency[PennylaneService]) -> authorizations.Consent:
    return PennylaneConsent(connections)


CALLBACK_DEPENDENCIES: Mapping[str, Provide] = {
    **ledger_controllers.DEPENDENCIES,
    "consent": Provide(provide_consent, sync_to_thread=False),
}


class PennylaneCallbackController(authorizations.ConsentCallbackController):
    """Where Pennylane sends the person back (one fixed address, registered with Pennylane)."""

    path = CALLBACK_PATH
    dependencies = CALLBACK_DEPENDENCIES
