"""Facturation: the billing entity's client base and the review of possible duplicates;
Paramètres: linking the billing entity and "Créer mes clients"; the Facturation tab of a dossier's panel."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.guards import principal_of, requires
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.billing.fee_controllers import dossier_engagements
from portal.billing.services import BillingClientService, BillingEntityService, BillingError
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.paging import Paging
from portal.firm.models import Firm
from portal.i18n import _
from portal.jobs.services import JobRunService
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.htmx import partial_or_redirect


async def dossier_tab(principal: Principal, session: AsyncSession, dossier: Dossier) -> dict[str, Any]:
    """The dossier's client in the billing entity's client base, and its lettres de mission."""
    entity_id, entity = await BillingEntityService(session).entity(principal)
    client = (
        await BillingClientService(session=session).client_of(principal, entity_id, dossier.id)
        if entity_id and principal.can(Permission.BILLING_CLIENTS_READ)
        else None
    )
    return {"entity": entity, "entity_id": entity_id, "client": client,
            **await dossier_engagements(principal, session, dossier)}  # fmt: skip


async def settings_section(principal: Principal, session: AsyncSession, firm: Firm | None) -> dict[str, Any]:
    """The billing entity, the dossiers it may be, and the last "Créer mes clients"."""
    billing = BillingEntityService(session)
    linked = firm is not None and firm.billing_entity_id is not None
    last_run = await billing.last_client_creation(principal) if linked else None
    return {
        "entity": await DossierService(session=session).find_visible(principal, firm.billing_entity_id)
        if firm
        else None,
        "entity_choices": await billing.choices(principal),
        "last_run": last_run,
        "last_shown": await JobRunService(session=session).shown(principal, last_run) if last_run else None,
    }


@dataclass
class EntityForm:
    entite: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class MergeForm:
    """The client to keep, and ``confirme`` once the confirmation page naming both was shown."""

    conserver: str = forms.text(forms.CHOICE_MAX_LENGTH)
    confirme: str = forms.text(forms.CHOICE_MAX_LENGTH)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def fees_or_clients(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard: reads the firm's fees somewhere (its Gestionnaire de facturation, a Comptable) or the client base."""
    principal = principal_of(connection)
    if not (principal.can_somewhere(Permission.BILLING_FEES_READ) or principal.can(Permission.BILLING_CLIENTS_READ)):
        raise PermissionDeniedException


fees_or_clients.permissions = ()  # type: ignore[attr-defined]
fees_or_clients.any_of = (Permission.BILLING_FEES_READ, Permission.BILLING_CLIENTS_READ)  # type: ignore[attr-defined]
CLIENTS_READ = requires(Permission.BILLING_CLIENTS_READ)


class BillingController(Controller):
    path = "/facturation"
    include_in_schema = False
    guards = (fees_or_clients,)
    dependencies: Mapping[str, Provide] = {
        "clients": provide(BillingClientService),
        "billing": provide(BillingEntityService),
    }

    @get("/clients", guards=[CLIENTS_READ], name="billing:clients", dependencies=PAGING)
    async def client_base(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[BillingClientService],
        billing: NamedDependency[BillingEntityService],
        paging: NamedDependency[Paging],
        q: FromQuery[str] = "",
    ) -> Template:
        principal = principal_of(request)
        entity_id, entity = await billing.entity(principal)
        q = forms.query_text(q)
        context: dict[str, Any] = {"entity": entity, "entity_id": entity_id, "q": q.strip(), "result": None}
        if entity_id is not None:
            context["result"] = await clients.visible_page(principal, entity_id, query=q, paging=paging)
            context["open_duplicates"] = await clients.count_open_duplicates(principal, entity_id)
        return Template(template_name="billing/clients.html", context=context)

    @get("/doublons", guards=[CLIENTS_READ], name="billing:duplicates", dependencies=PAGING)
    async def duplicates(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[BillingClientService],
        billing: NamedDependency[BillingEntityService],
        paging: NamedDependency[Paging],
    ) -> Template:
        principal = principal_of(request)
        entity_id, entity = await billing.entity(principal)
        context: dict[str, Any] = {"entity": entity, "entity_id": entity_id, "result": None}
        if entity_id is not None:
            context["result"] = await clients.open_duplicates(principal, entity_id, paging=paging)
            context["open_duplicates"] = context["result"].total
        return Template(template_name="billing/duplicates.html", context=context)

    @get(
        "/doublons/{duplicate_id:uuid}/fusionner",
        guards=[requires(Permission.BILLING_DUPLICATES_RESOLVE)],
        name="billing:merge_confirm",
    )
    async def confirm_merge(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[BillingClientService],
        billing: NamedDependency[BillingEntityService],
        duplicate_id: FromPath[uuid.UUID],
        keep: Annotated[str, QueryParameter(name="conserver")] = "",
    ) -> Template | Redirect:
        """« Fusionner »: the confirmation page, naming the client kept and the one that goes (irreversible).

        Without a choice, the client the list offers to keep (the pair's candidate) is the one kept.
        """
        pair = await _pair(request, clients, billing, duplicate_id)
        keep = forms.query_text(keep, forms.CHOICE_MAX_LENGTH)
        try:
            kept, removed = clients.merge_plan(pair, _uuid(keep) if keep else pair.candidate_id)
        except BillingError as refused:
            flash(request, _(refused.message), category="error")
            return Redirect("/facturation/doublons", status_code=303)
        context = {"pair": pair, "kept": kept, "removed": removed}
        return Template(template_name="billing/merge_confirm.html", context=context)

    @post(
        "/doublons/{duplicate_id:uuid}/fusionner",
        guards=[requires(Permission.BILLING_DUPLICATES_RESOLVE)],
        name="billing:merge",
    )
    async def merge(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[BillingClientService],
        billing: NamedDependency[BillingEntityService],
        duplicate_id: FromPath[uuid.UUID],
        data: Annotated[MergeForm, forms.POSTED],
    ) -> Redirect:
        """The merge itself, once confirmed; a form posted without the confirmation goes to it first."""
        pair = await _pair(request, clients, billing, duplicate_id)
        if data.confirme != "oui":
            query = urlencode({"conserver": data.conserver[: forms.CHOICE_MAX_LENGTH]})
            return Redirect(f"/facturation/doublons/{pair.id}/fusionner?{query}", status_code=303)
        try:
            kept = await clients.merge(pair, keep=_uuid(data.conserver))
        except BillingError as refused:
            flash(request, _(refused.message), category="error")
        else:
            flash(request, _("Clients fusionnés : %(name)s est conservé avec tous ses dossiers.") % {"name": kept.name},
                  category="success")  # fmt: skip
        return Redirect("/facturation/doublons", status_code=303)

    @post(
        "/doublons/{duplicate_id:uuid}/ecarter",
        guards=[requires(Permission.BILLING_DUPLICATES_RESOLVE)],
        name="billing:dismiss",
    )
    async def dismiss(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[BillingClientService],
        billing: NamedDependency[BillingEntityService],
        duplicate_id: FromPath[uuid.UUID],
    ) -> Redirect:
        pair = await _pair(request, clients, billing, duplicate_id)
        await clients.dismiss(principal_of(request), pair)
        flash(request, _("Ce ne sont pas des doublons : la paire est écartée et ne sera plus proposée."),
              category="success")  # fmt: skip
        return Redirect("/facturation/doublons", status_code=303)


async def _pair(
    request: Request[Any, Any, Any], clients: BillingClientService, billing: BillingEntityService, pair_id: uuid.UUID
) -> Any:
    firm = await billing.firm()
    entity_id = firm.billing_entity_id if firm else None
    return await clients.get_duplicate(principal_of(request), entity_id or uuid.UUID(int=0), pair_id)


class BillingSettingsController(Controller):
    """The billing part of Paramètres › Informations générales."""

    path = "/parametres"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"billing": provide(BillingEntityService)}

    @post("/entite-facturante", guards=[requires(Permission.SETTINGS_UPDATE)], name="billing:link_entity")
    async def link_entity(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        data: Annotated[EntityForm, forms.POSTED],
    ) -> Redirect:
        try:
            firm = await billing.link(principal_of(request), _uuid(data.entite) if data.entite else None)
        except BillingError as refused:
            flash(request, _(refused.message), category="error")
        else:
            if firm.billing_entity_id is not None:
                flash(request, _("Entité facturante enregistrée."), category="success")
            else:
                flash(request, _("Aucune entité facturante n'est plus liée au cabinet."), category="success")
        return Redirect("/parametres", status_code=303)

    @post(
        "/creer-mes-clients",
        guards=[requires(Permission.BILLING_CLIENTS_CREATE)],
        name="billing:create_clients",
        media_type=MediaType.HTML,
    )
    async def create_clients(self, request: HTMXRequest, billing: NamedDependency[BillingEntityService]) -> Any:
        try:
            run = await billing.start_client_creation(principal_of(request))
        except BillingError as refused:
            flash(request, _(refused.message), category="error")
            return Redirect("/parametres", status_code=303)
        return partial_or_redirect(request, "billing/_partials/create_clients.html", {"run": run}, f"/travaux/{run.id}")
