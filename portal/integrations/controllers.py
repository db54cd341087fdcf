"""A dossier's Connexions page: the sources it can connect, their state, FEC uploads and imports.

Connecting Pennylane goes through OAuth 2.0 (authorisation code with PKCE): the ``state``
and the PKCE verifier stay in the person's server-side session and never reach the
browser; the callback checks both before any token is asked for. A personal API token is
pasted once, stored encrypted, and never shown again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import anyio
from litestar import Controller, MediaType, Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest, HTMXTemplate
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.guards import principal_of, requires_somewhere, signed_in
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.db.engine import writes_on_get
from portal.i18n import N_, _
from portal.integrations import authorizations, tasks
from portal.integrations.commerce.services import CommerceService
from portal.integrations.models import ConnectionStatus
from portal.integrations.pennylane.client import AuthorizationError
from portal.integrations.pennylane.oauth import finish_authorization, start_authorization
from portal.integrations.services import ConnectionRequestError, ConnectionService, parse_day
from portal.jobs.services import JobRunService
from portal.ledger import fec
from portal.ledger.files import ImportFiles
from portal.ledger.models import LedgerSource
from portal.ledger.services import LedgerService
from portal.ledger.tasks import import_fec
from portal.settings import Settings
from portal.web import forms
from portal.web.files import TooLargeError, display_name
from portal.web.htmx import page_or_partial

# The background work the Connexions page follows live, besides the imports themselves.
FOLLOWED_JOBS = (tasks.import_fiscal_years, tasks.fiscal_years, import_fec)
READS = requires_somewhere(Permission.LEDGER_READ)
MANAGES = requires_somewhere(Permission.CONNECTIONS_MANAGE)
FORM_OVERHEAD_BYTES = 64 * 1024
OAUTH_SESSION_KEY = "pennylane_oauth"
# Pennylane redirects the browser here (a GET) and the portal stores the authorisation: a GET that writes.
CALLBACK_PATH = writes_on_get("/connexions/pennylane/retour")

NO_FILE = N_("Choisissez le fichier des écritures comptables (FEC) à importer.")
EMPTY_FILE = N_("Le fichier est vide : exportez de nouveau le FEC depuis votre logiciel comptable.")
TOO_LARGE = N_("Le fichier dépasse la taille maximale de %(size)s Mo.")
BAD_DATE = N_("Date invalide : utilisez le format JJ/MM/AAAA.")
DATES_ORDER = N_("La date de fin d'exercice doit suivre la date de début.")


@dataclass
class UploadForm:
    """« Importer un fichier des écritures comptables » but the file: the fiscal year's dates, optional."""

    debut: str = forms.text(forms.DATE_MAX_LENGTH)
    fin: str = forms.text(forms.DATE_MAX_LENGTH)


@dataclass
class TokenForm:
    """A Pennylane personal API token, pasted once."""

    jeton: str = forms.text(forms.SECRET_MAX_LENGTH)


def provide_connections(db_session: NamedDependency[AsyncSession]) -> ConnectionService:
    return ConnectionService(db_session)


def provide_ledger(db_session: NamedDependency[AsyncSession]) -> LedgerService:
    return LedgerService(db_session)


def provide_dossiers(db_session: NamedDependency[AsyncSession]) -> DossierService:
    return DossierService(session=db_session)


DEPENDENCIES: Mapping[str, Provide] = {
    "connections": Provide(provide_connections, sync_to_thread=False),
    "ledger": Provide(provide_ledger, sync_to_thread=False),
    "dossiers": Provide(provide_dossiers, sync_to_thread=False),
}


def _redirect_uri(settings: Settings) -> str:
    return settings.base_url + CALLBACK_PATH


async def connections_context(
    request: Request[Any, Any, Any],
    dossier: Dossier,
    connections: ConnectionService,
    ledger: LedgerService,
    **extra: Any,
) -> dict[str, Any]:
    principal = principal_of(request)
    imports = await ledger.recent_imports(principal, dossier.id)
    runs = await JobRunService(session=ledger.session).unfinished_about(principal, dossier.id, FOLLOWED_JOBS)
    return {
        "dossier": dossier,
        "pennylane": await connections.pennylane(principal, dossier.id),
        "fiscal_years": await ledger.fiscal_years(principal, dossier.id),
        "imports": imports,
        "runs": runs,
        "unfinished": bool(runs) or any(not record.status.is_final for record in imports),
        "commerce": await CommerceService(ledger.session).catalogue(principal, dossier.id, Permission.LEDGER_READ),
        "can_manage": principal.can(Permission.CONNECTIONS_MANAGE, dossier.id),
        "can_export": principal.can(Permission.LEDGER_EXPORT, dossier.id),
        "upload_form": {"debut": "", "fin": ""},
        "upload_errors": {},
        "token_errors": {},
        **extra,
    }


class ConnectionController(Controller):
    path = "/entreprises/{dossier_id:uuid}/connexions"
    guards = (READS,)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="integrations:connections")
    async def index(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        dossier = await dossiers.get_visible(principal_of(request), dossier_id, Permission.LEDGER_READ)
        context = await connections_context(request, dossier, connections, ledger)
        return Template(template_name="integrations/connections.html", context=context)

    @get("/imports", name="integrations:imports", media_type=MediaType.HTML)
    async def imports(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """The imports and fiscal years, refreshed every second while an import runs (htmx)."""
        dossier = await dossiers.get_visible(principal_of(request), dossier_id, Permission.LEDGER_READ)
        context = await connections_context(request, dossier, connections, ledger)
        return HTMXTemplate(template_name="integrations/_partials/imports.html", context=context)

    @get("/imports/{import_id:uuid}", name="integrations:import")
    async def report(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        import_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """One import: its state and the report of its file (errors and warnings with line numbers)."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_READ)
        record = await ledger.get_import(principal, dossier.id, import_id)
        report = fec.Report.from_dict(record.report) if record.report else None
        if report is not None:  # errors first, then warnings, each in file order
            report.issues.sort(key=lambda issue: (issue.severity is not fec.Severity.ERROR, issue.line or 0))
        context = {"dossier": dossier, "record": record, "report": report,
                   "fiscal_year": await ledger.fiscal_year_of(record)}  # fmt: skip
        return page_or_partial(request, "integrations/import.html", "integrations/_partials/import_state.html", context)

    @post("/fec", guards=[MANAGES], name="integrations:upload", media_type=MediaType.HTML)
    async def upload(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        ledger: NamedDependency[LedgerService],
    ) -> Any:
        """Importer un fichier des écritures comptables: checked as a FEC, stored, then imported by a worker."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        form = await request.form()
        typed, too_long = forms.read(UploadForm, form)
        values = asdict(typed)
        errors: dict[str, str] = {}
        period: dict[str, dt.date | None] = {}
        for key in ("debut", "fin"):
            try:
                period[key] = parse_day(values[key]) if values[key].strip() else None
            except ValueError:
                errors[key] = BAD_DATE
        errors.update(too_long)
        if period.get("debut") and period.get("fin") and period["fin"] <= period["debut"]:  # type: ignore[operator]
            errors["fin"] = DATES_ORDER
        upload = form.get("fichier")
        files = ImportFiles(settings.imports_dir, max_bytes=settings.fec_max_bytes)
        stored: tuple[str, int] | None = None
        if not isinstance(upload, UploadFile) or not upload.filename:
            errors["fichier"] = NO_FILE
        elif not errors:
            stored, message = await _store(files, upload, settings)
            if message:
                errors["fichier"] = message
        if isinstance(upload, UploadFile):
            await upload.close()
        if errors or stored is None:
            context = await connections_context(
                request, dossier, connections, ledger, upload_form=values, upload_errors=errors, open_form="fec"
            )
            return Template(template_name="integrations/connections.html", context=context, status_code=422)
        assert isinstance(upload, UploadFile)  # noqa: S101 - narrowed above
        await ledger.request_import(
            principal, dossier, source=LedgerSource.UPLOAD, filename=display_name(upload.filename),
            storage_name=stored[0], size_bytes=stored[1], period_start=period.get("debut"),
            period_end=period.get("fin"),
        )  # fmt: skip
        flash(request, _("Fichier reçu : l'import a commencé."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions#imports", status_code=303)

    # --- Pennylane --------------------------------------------------------------------

    @post("/pennylane", guards=[MANAGES], name="integrations:pennylane_connect")
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
        start = start_authorization(settings, _redirect_uri(settings))
        authorizations.remember(
            request.session, OAUTH_SESSION_KEY, start.state, dossier=str(dossier.id), verifier=start.code_verifier
        )
        return Redirect(start.url, status_code=303)

    @post("/pennylane/jeton", guards=[MANAGES], name="integrations:pennylane_token", media_type=MediaType.HTML)
    async def save_token(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        ledger: NamedDependency[LedgerService],
    ) -> Any:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        token, errors = forms.read(TokenForm, await request.form())
        if not errors:
            try:
                await connections.save_api_token(principal, dossier, token.jeton)
            except ConnectionRequestError as refused:
                errors = {"jeton": refused.message}
        if errors:
            context = await connections_context(
                request, dossier, connections, ledger, token_errors=errors, open_form="jeton"
            )
            return Template(template_name="integrations/connections.html", context=context, status_code=422)
        flash(request, _("Jeton enregistré. Il ne sera plus affiché."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions/pennylane/exercices", status_code=303)

    @get("/pennylane/exercices", name="integrations:pennylane_years")
    async def fiscal_years(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """« Sélectionnez les exercices à importer »: what Pennylane holds, once a worker has asked it."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_READ)
        context = await _years_context(principal, dossier, connections, ledger)
        return page_or_partial(request, "integrations/fiscal_years.html", "integrations/_partials/years.html", context)

    @post("/pennylane/exercices", guards=[MANAGES], name="integrations:pennylane_import", media_type=MediaType.HTML)
    async def import_years(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        ledger: NamedDependency[LedgerService],
    ) -> Any:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        form = await request.form()
        chosen = [str(value) for value in form.getall("exercice", [])]
        try:
            connection = await connections.connected_pennylane(principal, dossier.id)
            run = await connections.request_import(principal, connection, chosen)
        except ConnectionRequestError as refused:
            context = await _years_context(principal, dossier, connections, ledger, error=refused.message)
            return Template(template_name="integrations/fiscal_years.html", context=context, status_code=422)
        flash(request, _("Import demandé : suivez son avancement ci-dessous."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions?travail={run.id}#imports", status_code=303)

    @post("/pennylane/actualiser", guards=[MANAGES], name="integrations:pennylane_refresh")
    async def refresh_years(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
    ) -> Redirect:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        connection = await connections.pennylane(principal, dossier.id, Permission.CONNECTIONS_MANAGE)
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            raise NotFoundException
        await connections.request_fiscal_years(principal, connection)
        return Redirect(f"/entreprises/{dossier.id}/connexions/pennylane/exercices", status_code=303)

    @post("/pennylane/deconnecter", guards=[MANAGES], name="integrations:pennylane_disconnect")
    async def disconnect(
        self,
        request: Request[Any, Any, Any],
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
    ) -> Redirect:
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)
        connection = await connections.pennylane(principal, dossier.id, Permission.CONNECTIONS_MANAGE)
        if connection is None:
            raise NotFoundException
        await connections.disconnect(principal, connection)
        flash(request, _("Pennylane est déconnecté de ce dossier."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions", status_code=303)


async def _store(
    files: ImportFiles, upload: UploadFile, settings: Settings
) -> tuple[tuple[str, int] | None, str | None]:
    """Keep the upload if it reads as a FEC at all; else discard it and say why (French msgid)."""

    def save() -> tuple[str, int]:
        upload.file.seek(0)
        return files.save(upload.file)  # type: ignore[arg-type]

    try:
        name, size = await anyio.to_thread.run_sync(save)
    except TooLargeError:
        megabytes = settings.fec_max_bytes // (1024 * 1024)
        return None, _(TOO_LARGE) % {"size": megabytes}
    if size == 0:
        files.discard(name)
        return None, EMPTY_FILE
    path = files.path(name)

    def sniff() -> str | None:
        try:
            with fec.FecFile.open(path, filename=display_name(upload.filename)):
                return None
        except fec.FecFormatError as refused:
            return refused.text()

    message = await anyio.to_thread.run_sync(sniff)
    if message is not None:
        files.discard(name)
        return None, message
    return (name, size), None


async def _years_context(
    principal: Principal,
    dossier: Dossier,
    connections: ConnectionService,
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


class PennylaneCallbackController(Controller):
    """Where Pennylane sends the person back (one fixed address, registered with Pennylane)."""

    path = CALLBACK_PATH
    guards = (signed_in,)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="integrations:pennylane_callback")
    async def callback(
        self,
        request: Request[Any, Any, Any],
        *,
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
        connections: NamedDependency[ConnectionService],
        oauth_state: Annotated[str, QueryParameter(name="state")] = "",
    ) -> Any:
        principal = principal_of(request)
        state = oauth_state
        started = authorizations.take(request.session, OAUTH_SESSION_KEY, state)
        if started is None:
            return authorizations.callback_error(authorizations.STATE_MISMATCH)
        dossier = await dossiers.get_visible(principal, uuid.UUID(started["dossier"]), Permission.CONNECTIONS_MANAGE)
        try:
            token = await finish_authorization(
                settings, redirect_uri=_redirect_uri(settings), authorization_response=str(request.url),
                expected_state=state, code_verifier=started["verifier"],
            )  # fmt: skip
        except AuthorizationError as refused:
            return authorizations.callback_error(refused.message, dossier=dossier)
        await connections.save_oauth(principal, dossier, token)
        flash(request, _("Pennylane est connecté. Choisissez les exercices à importer."), category="success")
        return Redirect(f"/entreprises/{dossier.id}/connexions/pennylane/exercices", status_code=303)


def integration_routes(settings: Settings) -> Router:
    """The Connexions pages, whose uploads may carry a FEC of up to ``fec_max_bytes``."""
    return Router(
        path="/",
        route_handlers=[ConnectionController, PennylaneCallbackController],
        request_max_body_size=settings.fec_max_bytes + FORM_OVERHEAD_BYTES,
    )
