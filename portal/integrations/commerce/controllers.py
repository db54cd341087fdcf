"""A dossier's POS and e-commerce sources: connect, map, schedule, sync, and read the entries.

Pages under ``/entreprises/{id}/connexions/sources/{code}``. Partners, admins and the
dossier's Comptable connect and sync (``CONNECTIONS_MANAGE``); they and the people invited
onto the mapping edit it (``CONNECTIONS_MAP``). A dossier or a source the person may not
see answers 404. OAuth sources go through the same authorisation code + PKCE flow as
Pennylane, with the ``state`` and verifier kept in the server-side session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, QueryParameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from litestar_htmx import HTMXRequest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.guards import principal_of, signed_in
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.clients.fiscal import fiscal_year_end, fiscal_year_start
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.engine import writes_on_get
from portal.db.paging import Paging
from portal.firm.invitations import InviteError
from portal.i18n import N_, _
from portal.integrations import authorizations
from portal.integrations.commerce import mapping as mappings
from portal.integrations.commerce import oauth as commerce_oauth
from portal.integrations.commerce import sync
from portal.integrations.commerce.entries import EntryKind
from portal.integrations.commerce.errors import CommerceError
from portal.integrations.commerce.models import SyncFrequency
from portal.integrations.commerce.services import (
    CommerceConnectionService,
    CommerceEntryService,
    CommerceRequestError,
    EntryFilters,
)
from portal.integrations.commerce.sources import Source, SourceAuth, get_source
from portal.integrations.services import ConnectionRequestError
from portal.ledger import fec
from portal.settings import Settings
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import download, in_chunks, reader_sessions
from portal.web.htmx import page_or_partial

OAUTH_SESSION_KEY = "commerce_oauth"
CALLBACK_PATH = writes_on_get("/connexions/sources/retour")
# Currencies a web shop sells in most often besides the euro: the mapping screen offers their rates.
COMMON_CURRENCIES = ("CHF", "GBP", "USD")
NO_SIREN = "000000000"  # a dossier without SIREN: the FEC's name keeps its shape
DENIED = N_("L'autorisation a été refusée sur le site de la source : rien n'a été connecté.")


@dataclass
class KeyForm:
    """An API key, pasted once."""

    cle: str = forms.text(forms.SECRET_MAX_LENGTH)


@dataclass
class ScheduleForm:
    debut: str = forms.text(forms.DATE_MAX_LENGTH)
    frequence: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class PostingModeForm:
    """One entry per ticket (``tickets``) or the Z de caisse (``z``)."""

    mode: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class MapperInviteForm:
    """Delegating the mapping: the person invited."""

    email: str = forms.text(forms.EMAIL_MAX_LENGTH)
    nom: str = forms.text(forms.NAME_MAX_LENGTH)


DEPENDENCIES: Mapping[str, Provide] = {
    "commerce": provide(CommerceConnectionService),
    "entries": provide(CommerceEntryService),
    "dossiers": provide(DossierService),
}


def _source(code: str) -> Source:
    source = get_source(code)
    if source is None:
        raise NotFoundException
    return source


def _sees(principal: Principal, dossier_id: uuid.UUID) -> Permission:
    """The permission the person reads a source page with: the ledger's, or the mapping's (a delegate)."""
    return Permission.LEDGER_READ if principal.can(Permission.LEDGER_READ, dossier_id) else Permission.CONNECTIONS_MAP


async def _dossier(
    dossiers: DossierService, principal: Principal, dossier_id: uuid.UUID, permission: Permission | None = None
) -> Dossier:
    """The dossier if the person sees it (else 404, as for one that does not exist) and may act with
    ``permission`` on it (else 403: the dossier is theirs to see, the action is not)."""
    dossier = await dossiers.get_visible(principal, dossier_id)
    if permission is None:
        permission = _sees(principal, dossier_id)
    if not principal.can(permission, dossier.id):
        raise PermissionDeniedException
    return dossier


def _page(dossier: Dossier, source: Source, suffix: str = "") -> str:
    return f"/entreprises/{dossier.id}/connexions/sources/{source.code}{suffix}"


async def source_context(
    principal: Principal, dossier: Dossier, source: Source, commerce: CommerceConnectionService, **extra: Any
) -> dict[str, Any]:
    permission = _sees(principal, dossier.id)
    state = await commerce.state(principal, dossier.id, source, permission)
    setup = state.setup
    context: dict[str, Any] = {
        "dossier": dossier,
        "source": source,
        "state": state,
        "connection": state.connection,
        "setup": setup,
        "can_manage": principal.can(Permission.CONNECTIONS_MANAGE, dossier.id),
        "can_map": principal.can(Permission.CONNECTIONS_MAP, dossier.id),
        "can_read": principal.can(Permission.LEDGER_READ, dossier.id),
        "can_invite": principal.can(Permission.USERS_INVITE)
        and principal.can(Permission.CONNECTIONS_MANAGE, dossier.id),
        "frequencies": list(SyncFrequency),
        "key_errors": {},
        "schedule_errors": {},
        "invite_errors": {},
        "invite_form": {"email": "", "nom": ""},
        "sync_error": None,
        "mode_error": None,
        "missing": [],
        "days": [],
        "runs": [],
        "last_runs": [],
        "customers": 0,
    }
    if setup is not None:
        context["schedule_form"] = {"debut": setup.sync_start.strftime("%d/%m/%Y"),
                                    "frequence": setup.sync_frequency.value}  # fmt: skip
        context["reference"] = commerce.mappings.reference(setup)
        context["missing"] = commerce.mappings.missing(source, setup) if setup.reference is not None else []
        context["days"] = await commerce.days(setup)
        context["runs"] = await commerce.running(setup)
        context["last_runs"] = await commerce.last_runs(setup)
        context["customers"] = await commerce.customers(setup)
    context.update(extra)
    return context


class CommerceController(Controller):
    path = "/entreprises/{dossier_id:uuid}/connexions/sources"
    guards = (signed_in,)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="commerce:index")
    async def index(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Template:
        """The dossier's connected sources, for whoever maps them (the Connexions page shows the rest)."""
        principal = principal_of(request)
        dossier = await _dossier(dossiers, principal, dossier_id)
        catalogue = await commerce.catalogue(principal, dossier.id, _sees(principal, dossier.id))
        context = {"dossier": dossier, "sources": [item for item in catalogue if item.connection is not None],
                   "can_read": principal.can(Permission.LEDGER_READ, dossier.id)}  # fmt: skip
        return Template(template_name="integrations/commerce/index.html", context=context)

    @get("/{code:str}", name="commerce:source")
    async def source_page(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Template:
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id)
        context = await source_context(principal, dossier, source, commerce)
        return page_or_partial(
            request, "integrations/commerce/source.html", "integrations/commerce/_partials/state.html", context
        )

    @post("/{code:str}/cle", name="commerce:api_key", media_type=MediaType.HTML)
    async def save_key(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        data: Annotated[KeyForm, forms.POSTED],
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Any:
        """« Connecter » with an API key: tried at the source, then stored encrypted, never shown again but
        for its last characters; a key the source refuses is said so on the form, and nothing is kept."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        if source.auth is not SourceAuth.API_KEY:
            raise NotFoundException
        errors = {name: _(message) for name, message in forms.clip(data).items()}
        if not errors:
            try:
                await commerce.connect_api_key(settings, principal, dossier, source, data.cle)
            except ConnectionRequestError as refused:
                errors = {"cle": refused.text()}  # in words already: it may quote the key's last characters
        if errors:
            context = await source_context(principal, dossier, source, commerce, key_errors=errors)
            return Template(template_name="integrations/commerce/source.html", context=context, status_code=422)
        flash(request, _("%(source)s est connecté. Le portail lit le compte et ses données de référence.")
              % {"source": source.name}, category="success")  # fmt: skip
        return Redirect(_page(dossier, source), status_code=303)

    @post("/{code:str}/oauth", name="commerce:oauth_start")
    async def start_oauth(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
    ) -> Redirect:
        """Off to the source's consent page, with a fresh state and PKCE challenge kept server-side."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        if source.auth is not SourceAuth.OAUTH:
            raise NotFoundException
        start = commerce_oauth.start_authorization(settings, source, CommerceConsent.redirect_uri(settings))
        return CommerceConsent.begin(request, start, dossier, source=source.code)

    @post("/{code:str}/synchronisation", name="commerce:schedule", media_type=MediaType.HTML)
    async def save_schedule(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        data: Annotated[ScheduleForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Any:
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        too_long = forms.clip(data)
        values = asdict(data)
        try:
            _connection, setup = await commerce.connected(principal, dossier.id, source, Permission.CONNECTIONS_MANAGE)
        except ConnectionRequestError:
            raise NotFoundException from None
        errors = too_long or commerce.save_schedule(setup, values["debut"], values["frequence"])
        if errors:
            context = await source_context(principal, dossier, source, commerce, schedule_errors=errors,
                                           schedule_form=values)  # fmt: skip
            return Template(template_name="integrations/commerce/source.html", context=context, status_code=422)
        flash(request, _("Synchronisation enregistrée."), category="success")
        return Redirect(_page(dossier, source), status_code=303)

    @post("/{code:str}/mode-ecritures", name="commerce:posting_mode", media_type=MediaType.HTML)
    async def save_posting_mode(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        data: Annotated[PostingModeForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Any:
        """One entry per ticket or the Z de caisse, for the days posted from now on (a lost connection too)."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        state = await commerce.state(principal, dossier.id, source, Permission.CONNECTIONS_MANAGE)
        if state.setup is None:
            raise NotFoundException
        error = next(iter(forms.clip(data).values()), None) or commerce.save_posting_mode(state.setup, data.mode)
        if error:
            context = await source_context(principal, dossier, source, commerce, mode_error=error)
            return Template(template_name="integrations/commerce/source.html", context=context, status_code=422)
        message = (
            _("Z de caisse enregistré : chaque journée passée désormais le sera en une écriture par caisse.")
            if state.setup.summarise_days
            else _("Enregistré : chaque journée passée désormais le sera ticket par ticket.")
        )
        flash(request, message, category="success")
        return Redirect(_page(dossier, source, "#mode-ecritures"), status_code=303)

    @post("/{code:str}/synchroniser", name="commerce:sync", media_type=MediaType.HTML)
    async def sync_now(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Any:
        """« Synchroniser maintenant »: every day not yet final, up to today."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        try:
            connection, setup = await commerce.connected(principal, dossier.id, source, Permission.CONNECTIONS_MANAGE)
            await commerce.request_sync(principal, source, connection, setup)
        except CommerceRequestError as refused:
            context = await source_context(principal, dossier, source, commerce, sync_error=refused.text())
            return Template(template_name="integrations/commerce/source.html", context=context, status_code=422)
        flash(request, _("Synchronisation demandée : suivez son avancement ci-dessous."), category="success")
        return Redirect(_page(dossier, source, "#etat"), status_code=303)

    @post("/{code:str}/actualiser", name="commerce:refresh")
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Redirect:
        """Read the source's registers, payment methods and VAT rates again (new ones get defaults)."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MAP)
        state = await commerce.state(principal, dossier.id, source, Permission.CONNECTIONS_MAP)
        if not state.connected or state.connection is None:
            raise NotFoundException
        await commerce.request_reference(principal, state.connection)
        flash(request, _("Lecture des données de référence demandée."), category="success")
        return Redirect(_page(dossier, source, "/mapping"), status_code=303)

    @post("/{code:str}/deconnecter", name="commerce:disconnect")
    async def disconnect(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Redirect:
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        state = await commerce.state(principal, dossier.id, source, Permission.CONNECTIONS_MANAGE)
        if state.connection is None:
            raise NotFoundException
        await commerce.disconnect(principal, state.connection)
        flash(request, _("%(source)s est déconnecté de ce dossier. Les écritures déjà passées restent.")
              % {"source": source.name}, category="success")  # fmt: skip
        return Redirect(_page(dossier, source), status_code=303)

    # --- mapping ---------------------------------------------------------------------------

    @get("/{code:str}/mapping", name="commerce:mapping")
    async def mapping_page(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Template:
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MAP)
        context = await _mapping_context(principal, dossier, source, commerce)
        return Template(template_name="integrations/commerce/mapping.html", context=context)

    @post("/{code:str}/mapping", name="commerce:mapping_save", media_type=MediaType.HTML)
    async def save_mapping(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        data: Annotated[forms.Fields, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Any:
        """Save the whole mapping, or nothing: every wrong field is shown with its reason."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MAP)
        state = await commerce.state(principal, dossier.id, source, Permission.CONNECTIONS_MAP)
        if state.setup is None or state.setup.reference is None:
            raise NotFoundException
        values, too_long = mappings.read_form(data.values)
        # A field too long is refused before the mapping is read: nothing is saved.
        mapping, errors = (
            (commerce.mappings.mapping(source, state.setup), too_long)
            if too_long
            else commerce.mappings.save_mapping(source, state.setup, values)
        )
        if errors:
            context = await _mapping_context(principal, dossier, source, commerce, mapping=mapping, errors=errors,
                                             values=values)  # fmt: skip
            return Template(template_name="integrations/commerce/mapping.html", context=context, status_code=422)
        flash(request, _("Mapping enregistré."), category="success")
        return Redirect(_page(dossier, source, "/mapping"), status_code=303)

    @post("/{code:str}/inviter", name="commerce:invite", media_type=MediaType.HTML)
    async def invite(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        data: Annotated[MapperInviteForm, forms.POSTED],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
    ) -> Any:
        """Delegate the mapping: invite a person who may then edit it (and nothing else of the dossier)."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        if not principal.can(Permission.USERS_INVITE):
            raise PermissionDeniedException
        errors = forms.clip(data)
        outcome = None
        if not errors:
            try:
                outcome = await commerce.invite_mapper(principal, dossier, email=data.email, name=data.nom)
            except InviteError as refused:
                errors = {refused.field or "email": refused.message}
        if outcome is None:
            context = await source_context(principal, dossier, source, commerce, invite_form=asdict(data),
                                           invite_errors=errors)  # fmt: skip
            return Template(template_name="integrations/commerce/source.html", context=context, status_code=422)
        flash(request, _("%(email)s est invité(e) à compléter le mapping de ce dossier.")
              % {"email": outcome.email}, category="success")  # fmt: skip
        return Redirect(_page(dossier, source), status_code=303)

    # --- entries ---------------------------------------------------------------------------

    @get("/{code:str}/ecritures", name="commerce:entries", dependencies=PAGING)
    async def entries(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        code: FromPath[str],
        dossiers: NamedDependency[DossierService],
        commerce: NamedDependency[CommerceConnectionService],
        entries: NamedDependency[CommerceEntryService],
        paging: NamedDependency[Paging],
        start: Annotated[str, QueryParameter(name="du")] = "",
        end: Annotated[str, QueryParameter(name="au")] = "",
        journal: Annotated[str, QueryParameter(name="journal")] = "",
        kind: Annotated[str, QueryParameter(name="type")] = "",
        view: Annotated[str, QueryParameter(name="vue")] = "ecritures",
    ) -> Template:
        """The entries posted from the source, with their lines, or the balance by account."""
        principal = principal_of(request)
        source = _source(code)
        dossier = await _dossier(dossiers, principal, dossier_id, Permission.LEDGER_READ)
        state = await commerce.state(principal, dossier.id, source, Permission.LEDGER_READ)
        if state.setup is None:
            raise NotFoundException
        errors: dict[str, str] = {}
        dates: dict[str, dt.date | None] = {}
        start, end, journal = (forms.query_text(value, forms.DATE_MAX_LENGTH) for value in (start, end, journal))
        for key, value in (("du", start), ("au", end)):
            dates[key] = forms.parse_date(value) if value.strip() else None
            if value.strip() and dates[key] is None:
                errors[key] = N_("Date invalide : utilisez le format JJ/MM/AAAA.")
        kinds = {item.value for item in EntryKind}
        filters = EntryFilters(start=dates["du"], end=dates["au"], journal=journal.strip().upper()[:8],
                               kind=kind if kind in kinds else "")  # fmt: skip
        context: dict[str, Any] = {
            "dossier": dossier, "source": source, "setup": state.setup, "filters": filters, "errors": errors,
            "form": {"du": start, "au": end}, "view": "balance" if view == "balance" else "ecritures",
            "journals": await entries.journals(state.setup), "kinds": list(EntryKind),
            "can_export": principal.can(Permission.LEDGER_EXPORT, dossier.id), "account_label": mappings.account_label,
        }  # fmt: skip
        if context["view"] == "balance":
            context["rows"], context["totals"] = await entries.balance(state.setup, filters)
        else:
            result, lines, totals = await entries.entries_page(state.setup, filters, paging=paging)
            auxiliaries = {line.aux_account for rows in lines.values() for line in rows if line.aux_account}
            context.update(result=result, lines=lines, totals=totals,
                           aux_labels=await entries.aux_labels(state.setup, auxiliaries))  # fmt: skip
        return Template(template_name="integrations/commerce/entries.html", context=context)


@get("/entreprises/{dossier_id:uuid}/connexions/sources/{code:str}/ecritures/fec", guards=[signed_in],
     name="commerce:export", include_in_schema=False, dependencies=DEPENDENCIES)  # fmt: skip
async def export_entries(
    request: Request[Any, Any, Any],
    *,
    dossier_id: FromPath[uuid.UUID],
    code: FromPath[str],
    dossiers: NamedDependency[DossierService],
    commerce: NamedDependency[CommerceConnectionService],
    start: Annotated[str, QueryParameter(name="du")] = "",
    end: Annotated[str, QueryParameter(name="au")] = "",
    journal: Annotated[str, QueryParameter(name="journal")] = "",
) -> Stream:
    """The posted entries in the FEC layout, to load into the dossier's accounting software."""
    principal = principal_of(request)
    source = _source(code)
    dossier = await _dossier(dossiers, principal, dossier_id, Permission.LEDGER_EXPORT)
    state = await commerce.state(principal, dossier.id, source, Permission.LEDGER_EXPORT)
    if state.setup is None:
        raise NotFoundException
    start_day, end_day = (forms.parse_date(value) if value.strip() else None for value in (start, end))
    if (start.strip() and start_day is None) or (end.strip() and end_day is None):
        raise NotFoundException
    filters = EntryFilters(start=start_day, end=end_day, journal=journal.strip().upper()[:8])
    setup, sessions = state.setup, reader_sessions(request)

    async def body() -> AsyncIterator[bytes]:
        async with sessions() as session:
            header = True
            async for batch in in_chunks(CommerceEntryService(session).export_rows(setup, filters)):
                yield fec.write_chunk(batch, cash_basis=False, header=header)
                header = False

    period = "-".join(day.strftime("%Y%m%d") for day in (filters.start, filters.end) if day)
    filename = f"ecritures-{source.code}-{dossier.siren or 'dossier'}{'-' + period if period else ''}.txt"
    return download(body(), media_type="text/plain", charset="iso-8859-15", filename=filename)


async def ledger_journals(  # noqa: PLR0917 - a page part: the page passes its context positionally
    principal: Principal,
    session: AsyncSession,
    dossier: Dossier,
    period: tuple[dt.date, dt.date],
    journal: str,
    paging: Paging,
    others: list[tuple[dt.date, dt.date]],
) -> dict[str, Any]:
    """The dossier's Comptabilité part: the journals the portal produced over ``period``, and the entries of
    the one chosen (``journal`` is its key, ``portail:<source>:<code>``); ``others``, the fiscal years not
    imported the page offers, those of which hold the portal's entries. The page checked LEDGER_READ."""
    del principal  # the page read the dossier with LEDGER_READ: its entries are the person's to read
    entries = CommerceEntryService(session)
    setups = await entries.setups_of(dossier.id)
    start, end = period
    journals = await entries.portal_journals(setups, start, end)
    selected = next((item for item in journals if item.key == journal), None)
    elsewhere = [item for item in others if item != period and await entries.posted_between(setups, *item)]
    context: dict[str, Any] = {
        "portal_journals": journals, "portal_selected": selected, "portal_elsewhere": elsewhere,
        "portal_filename": fec.fec_filename(dossier.siren or NO_SIREN, end), "account_label": mappings.account_label,
    }  # fmt: skip
    if selected is not None:
        filters = EntryFilters(start=start, end=end, journal=selected.code)
        result, lines, totals = await entries.entries_page(selected.setup, filters, paging)
        auxiliaries = {line.aux_account for rows in lines.values() for line in rows if line.aux_account}
        context.update(portal_result=result, portal_lines=lines, portal_totals=totals,
                       portal_aux=await entries.aux_labels(selected.setup, auxiliaries))  # fmt: skip
    return context


@get("/entreprises/{dossier_id:uuid}/comptabilite/journaux-du-portail/fec", guards=[signed_in],
     name="commerce:ledger_export", include_in_schema=False, dependencies=DEPENDENCIES)  # fmt: skip
async def export_portal_journals(
    request: Request[Any, Any, Any],
    *,
    dossier_id: FromPath[uuid.UUID],
    dossiers: NamedDependency[DossierService],
    start: Annotated[str, QueryParameter(name="du")] = "",
    end: Annotated[str, QueryParameter(name="au")] = "",
) -> Stream:
    """Every journal the portal produced for the dossier over a fiscal year (``du``/``au``, the current one by
    default), as ``<SIREN>FEC<closing>.txt``."""
    principal = principal_of(request)
    dossier = await _dossier(dossiers, principal, dossier_id, Permission.LEDGER_EXPORT)
    if not start and not end:
        today = sync.today()
        start, end = fiscal_year_start(dossier, today).isoformat(), fiscal_year_end(dossier, today).isoformat()
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise NotFoundException from None
    if last < first:
        raise NotFoundException
    filters = EntryFilters(start=first, end=last)
    sessions = reader_sessions(request)

    async def body() -> AsyncIterator[bytes]:
        async with sessions() as session:
            service = CommerceEntryService(session)
            setups = await service.setups_of(dossier.id)
            header = True
            async for batch in in_chunks(service.export_rows(setups, filters)):
                yield fec.write_chunk(batch, cash_basis=False, header=header)
                header = False
            if header:  # nothing posted over the period: the header alone, still a FEC
                yield fec.write_chunk([], cash_basis=False, header=True)

    filename = fec.fec_filename(dossier.siren or NO_SIREN, last)
    return download(body(), media_type="text/plain", charset="iso-8859-15", filename=filename)


async def _mapping_context(
    principal: Principal, dossier: Dossier, source: Source, commerce: CommerceConnectionService, **extra: Any
) -> dict[str, Any]:
    state = await commerce.state(principal, dossier.id, source, Permission.CONNECTIONS_MAP)
    if state.setup is None:
        raise NotFoundException
    setup = state.setup
    reference = commerce.mappings.reference(setup)
    mapping = extra.pop("mapping", None) or commerce.mappings.mapping(source, setup)
    home = {None, mappings.HOME_COUNTRY}
    rates = {mappings.rate_key(tax.rate) for tax in reference.tax_rates if source.is_pos or tax.country in home}
    rates |= set(mapping.sales_by_rate) | set(mapping.vat_accounts)
    countries = {country.code: country.name for country in reference.countries}
    countries.update({code: countries.get(code, code) for code in mapping.country_rules})
    return {
        "dossier": dossier, "source": source, "state": state, "setup": setup, "reference": reference,
        "rates": sorted(rates, key=mappings.parse_rate), "rate_label": mappings.rate_label,
        "countries": sorted(countries.items()), "account_label": mappings.account_label,
        "currencies": sorted(set(mapping.currency_rates) | set(COMMON_CURRENCIES)),
        "mapping": mapping, "missing": commerce.mappings.missing(source, setup) if setup.reference is not None else [],
        "errors": {}, "values": {}, "waiting": setup.reference is None,
        "can_read": principal.can(Permission.LEDGER_READ, dossier.id), **extra,
    }  # fmt: skip


class CommerceConsent(authorizations.Consent):
    """A source's consent: the connection is stored, then a worker reads its account and reference data."""

    path = CALLBACK_PATH
    session_key = OAUTH_SESSION_KEY
    provider = commerce_oauth.PROVIDER
    refusals = CommerceError
    denied = DENIED

    def __init__(self, commerce: CommerceConnectionService) -> None:
        self.commerce = commerce

    async def dossier(self, dossiers: DossierService, principal: Principal, dossier_id: uuid.UUID) -> Dossier:
        return await _dossier(dossiers, principal, dossier_id, Permission.CONNECTIONS_MANAGE)

    def source_name(self, started: dict[str, str]) -> str | None:
        return _source(started["source"]).name

    async def finish(self, settings: Settings, **callback: Any) -> dict[str, Any]:
        return await commerce_oauth.finish_authorization(settings, **callback)

    async def connected(
        self, request: Request[Any, Any, Any], principal: Principal, dossier: Dossier, started: dict[str, str],
        token: dict[str, Any],
    ) -> Redirect:  # fmt: skip
        source = _source(started["source"])
        await self.commerce.connect_oauth(principal, dossier, source, token)
        flash(request, _("%(source)s est connecté. Le portail lit le compte et ses données de référence.")
              % {"source": source.name}, category="success")  # fmt: skip
        return Redirect(_page(dossier, source), status_code=303)


def provide_consent(commerce: NamedDependency[CommerceConnectionService]) -> authorizations.Consent:
    return CommerceConsent(commerce)


CALLBACK_DEPENDENCIES: Mapping[str, Provide] = {
    **DEPENDENCIES,
    "consent": Provide(provide_consent, sync_to_thread=False),
}


class CommerceCallbackController(authorizations.ConsentCallbackController):
    """Where an OAuth source sends the person back (one fixed address, registered with it)."""

    path = CALLBACK_PATH
    dependencies = CALLBACK_DEPENDENCIES
