"""The Entreprises pages: list and search, the side panel, Nouveau, editing, confidentiality, export."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from litestar_htmx import HTMXRequest, HTMXTemplate
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.services import AuditEventService
from portal.auth.guards import principal_of, requires, signed_in
from portal.auth.permissions import Permission
from portal.clients import schemas
from portal.clients.models import Dossier, DossierStatus
from portal.clients.pages import PANEL_TABS
from portal.clients.services import DossierService, DossierSort, DuplicateSirenError
from portal.db.paging import Paging
from portal.i18n import _
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import csv_stream, reader_sessions

TABS = ("infos", "utilisateurs", "facturation", "historique")
DOSSIER_CHANGED = "dossier-modifie"  # htmx event: a dossier changed from the side panel
EXPORT_COLUMNS = ("Nom", "SIREN", "NIC", "TVA intracommunautaire", "Forme juridique", "Adresse", "Code postal",
                  "Ville", "Clôture", "Statut", "Dossier du cabinet", "Confidentiel")  # fmt: skip


def _sort(value: str) -> DossierSort:
    try:
        return DossierSort(value)
    except ValueError:
        return DossierSort.NAME


def _form_context(form: schemas.DossierForm, errors: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    return {"form": form, "errors": errors, "statuses": list(DossierStatus), "legal_forms": schemas.LEGAL_FORMS,
            **extra}  # fmt: skip


def _form_of(dossier: Dossier) -> schemas.DossierForm:
    identifier = dossier.siren + (dossier.nic or "") if dossier.siren else ""
    return schemas.DossierForm(
        nom=dossier.name, identifiant=identifier, forme_juridique=dossier.legal_form or "",
        adresse=dossier.address or "", code_postal=dossier.postal_code or "", ville=dossier.city or "",
        cloture=dossier.closing_display, statut=dossier.status.value,
        dossier_cabinet="on" if dossier.is_firm_dossier else "",
    )  # fmt: skip


async def _list(
    request: HTMXRequest, dossiers: DossierService, *, q: str, tri: str, paging: Paging, mine: bool
) -> Template:
    sort = _sort(tri)
    q = forms.query_text(q)
    result = await dossiers.visible_page(principal_of(request), query=q, sort=sort, paging=paging, mine=mine)
    base = "/entreprises/mes-dossiers" if mine else "/entreprises"
    context = {"result": result, "q": q.strip(), "sort": sort, "base": base, "mine": mine}
    if request.htmx and request.htmx.target == "resultats":
        # The address bar follows the search, so reload, back and a shared link keep it
        # (the search as answered, when what was typed was longer than a search may be).
        query = request.url.query
        if len(query) > forms.NEXT_MAX_LENGTH:
            query = urlencode({"q": q, "tri": sort.value, "page": result.page})
        location = request.url.path + (f"?{query}" if query else "")
        context["live"] = True
        return HTMXTemplate(template_name="clients/_partials/results.html", context=context, push_url=location)
    return Template(template_name="clients/list.html", context=context)


@dataclass
class PanelServices:
    """What the dossier's panel shows besides the dossier: its history, and the tabs of other domains.

    Those tabs (``PANEL_TABS``) build their own services, on the request's session given here.
    """

    audit_events: NamedDependency[AuditEventService]
    db_session: NamedDependency[AsyncSession]


class DossierController(Controller):
    path = "/entreprises"
    guards = (signed_in,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {
        "dossiers": provide(DossierService),
        "audit_events": provide(AuditEventService),
        "panel": Provide(PanelServices, sync_to_thread=False),
    }

    @get("/", name="clients:list", media_type=MediaType.HTML, dependencies=PAGING)
    async def index(
        self,
        request: HTMXRequest,
        dossiers: NamedDependency[DossierService],
        paging: NamedDependency[Paging],
        q: FromQuery[str] = "",
        tri: FromQuery[str] = DossierSort.NAME.value,
    ) -> Template:
        return await _list(request, dossiers, q=q, tri=tri, paging=paging, mine=False)

    @get("/mes-dossiers", name="clients:mine", media_type=MediaType.HTML, dependencies=PAGING)
    async def mine(
        self,
        request: HTMXRequest,
        dossiers: NamedDependency[DossierService],
        paging: NamedDependency[Paging],
        q: FromQuery[str] = "",
        tri: FromQuery[str] = DossierSort.NAME.value,
    ) -> Template:
        """Mes dossiers: the dossiers where the person is Comptable."""
        return await _list(request, dossiers, q=q, tri=tri, paging=paging, mine=True)

    @get("/export.csv", guards=[requires(Permission.DOSSIERS_EXPORT)], name="clients:export")
    async def export(self, request: Request[Any, Any, Any], q: FromQuery[str] = "") -> Stream:
        """The dossiers the person may see, as CSV (UTF-8 with BOM for spreadsheets), streamed."""
        principal = principal_of(request)
        sessions = reader_sessions(request)

        async def rows() -> AsyncIterator[tuple[str, ...]]:
            async with sessions() as session:
                async for row in DossierService(session=session).export_rows(principal, query=forms.query_text(q)):
                    yield (
                        row.name, row.siren or "", row.nic or "", row.vat_number or "", row.legal_form or "",
                        row.address or "", row.postal_code or "", row.city or "", row.closing_display,
                        _(row.status.label), "oui" if row.is_firm_dossier else "non",
                        "oui" if row.is_confidential else "non",
                    )  # fmt: skip

        return csv_stream(rows(), EXPORT_COLUMNS, "entreprises.csv")

    @get("/nouveau", guards=[requires(Permission.DOSSIERS_CREATE)], name="clients:new")
    async def new(self) -> Template:
        return Template(template_name="clients/form.html", context=_form_context(schemas.DossierForm(), {}))

    @post("/", guards=[requires(Permission.DOSSIERS_CREATE)], name="clients:create", media_type=MediaType.HTML)
    async def create(
        self,
        request: Request[Any, Any, Any],
        dossiers: NamedDependency[DossierService],
        data: Annotated[schemas.DossierForm, forms.POSTED],
    ) -> Any:
        checked = schemas.validate(data)
        if checked.values is None:
            return Template(
                template_name="clients/form.html", context=_form_context(data, checked.errors), status_code=422
            )
        try:
            dossier = await dossiers.create_dossier(principal_of(request), checked.values)
        except DuplicateSirenError as duplicate:
            await dossiers.refer_to_partners(principal_of(request), duplicate, checked.values.name)
            context = _form_context(data, {"identifiant": duplicate.message}, existing=duplicate.existing)
            return Template(template_name="clients/form.html", context=context, status_code=409)
        flash(request, _("Dossier créé : %(name)s.") % {"name": dossier.name}, category="success")
        return Redirect(f"/entreprises/{dossier.id}", status_code=303)

    @get("/{dossier_id:uuid}", name="clients:detail")
    async def detail(
        self,
        request: HTMXRequest,
        dossiers: NamedDependency[DossierService],
        dossier_id: FromPath[uuid.UUID],
        panel: NamedDependency[PanelServices],
        onglet: FromQuery[str] = "infos",
    ) -> Template:
        context = await _panel_context(request, dossiers, panel, dossier_id, onglet)
        return Template(template_name="clients/detail.html", context=context)

    @get("/{dossier_id:uuid}/volet", name="clients:panel", media_type=MediaType.HTML)
    async def panel(
        self,
        request: HTMXRequest,
        dossiers: NamedDependency[DossierService],
        dossier_id: FromPath[uuid.UUID],
        panel: NamedDependency[PanelServices],
        onglet: FromQuery[str] = "infos",
    ) -> Template:
        context = await _panel_context(request, dossiers, panel, dossier_id, onglet)
        return HTMXTemplate(template_name="clients/_partials/panel.html", context=context)

    @get("/{dossier_id:uuid}/modifier", guards=[requires(Permission.DOSSIERS_UPDATE)], name="clients:edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        dossiers: NamedDependency[DossierService],
        dossier_id: FromPath[uuid.UUID],
    ) -> Template:
        dossier = await dossiers.get_visible(principal_of(request), dossier_id, Permission.DOSSIERS_UPDATE)
        return Template(
            template_name="clients/form.html", context=_form_context(_form_of(dossier), {}, dossier=dossier)
        )

    @post(
        "/{dossier_id:uuid}",
        guards=[requires(Permission.DOSSIERS_UPDATE)],
        name="clients:update",
        media_type=MediaType.HTML,
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        dossiers: NamedDependency[DossierService],
        dossier_id: FromPath[uuid.UUID],
        data: Annotated[schemas.DossierForm, forms.POSTED],
    ) -> Any:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.DOSSIERS_UPDATE)
        checked = schemas.validate(data)
        if checked.values is None:
            context = _form_context(data, checked.errors, dossier=dossier)
            return Template(template_name="clients/form.html", context=context, status_code=422)
        try:
            await dossiers.update_dossier(principal, dossier, checked.values)
        except DuplicateSirenError as duplicate:
            await dossiers.refer_to_partners(principal, duplicate, checked.values.name)
            context = _form_context(
                data, {"identifiant": duplicate.message}, dossier=dossier, existing=duplicate.existing
            )
            return Template(template_name="clients/form.html", context=context, status_code=409)
        flash(request, _("Modifications enregistrées."), category="success")
        return Redirect(f"/entreprises/{dossier.id}", status_code=303)

    @post(
        "/{dossier_id:uuid}/confidentialite",
        guards=[requires(Permission.DOSSIERS_UPDATE)],
        name="clients:confidentiality",
        media_type=MediaType.HTML,
    )
    async def confidentiality(
        self,
        request: HTMXRequest,
        dossiers: NamedDependency[DossierService],
        dossier_id: FromPath[uuid.UUID],
        panel: NamedDependency[PanelServices],
        data: Annotated[schemas.ConfidentialityForm, forms.POSTED],
    ) -> Any:
        """ "Appliquer les changements": the checkbox "Entreprise confidentielle" and who has access."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.DOSSIERS_UPDATE)
        user_ids = []
        for value in data.acces:
            try:
                user_ids.append(uuid.UUID(value))
            except ValueError:
                continue
        confidential = data.confidentielle in {"on", "1", "true"}
        await dossiers.set_confidentiality(principal, dossier, confidential=confidential, user_ids=user_ids)
        message = (
            _("Changements appliqués : le dossier est confidentiel.")
            if confidential
            else _("Changements appliqués : le dossier est visible par tout le cabinet.")
        )
        if request.htmx:
            context = await _panel_context(request, dossiers, panel, dossier_id, "infos", notice=message)
            # The list behind the panel refreshes its rows (the "Confidentiel" badge) on this event.
            return HTMXTemplate(
                template_name="clients/_partials/panel.html",
                context=context,
                trigger_event=DOSSIER_CHANGED,
                after="receive",
            )
        flash(request, message, category="success")
        return Redirect(f"/entreprises/{dossier.id}", status_code=303)


async def _panel_context(
    request: Request[Any, Any, Any],
    dossiers: DossierService,
    panel: PanelServices,
    dossier_id: uuid.UUID,
    tab: str,
    *,
    notice: str | None = None,
) -> dict[str, Any]:
    principal = principal_of(request)
    dossier = await dossiers.get_visible(principal, dossier_id)
    tab = tab if tab in TABS else "infos"
    # A dossier the person may read is never hidden from them: updating it needs only the permission.
    can_update = principal.can(Permission.DOSSIERS_UPDATE)
    context: dict[str, Any] = {"dossier": dossier, "tab": tab, "notice": notice, "can_update": can_update,
                               "parts": PANEL_TABS}  # fmt: skip
    if tab == "infos" and context["can_update"]:
        context["access"] = await dossiers.access_choices(dossier)
    elif tab == "utilisateurs":
        context["members"] = await dossiers.members(dossier)
    elif tab == "historique":
        events = await panel.audit_events.for_dossier(principal, dossier.id)
        context["events"] = await panel.audit_events.described(principal, events)
    else:
        context.update(await PANEL_TABS.context(tab, principal, panel.db_session, dossier))
    return context
