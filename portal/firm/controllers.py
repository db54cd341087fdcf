"""Utilisateurs and Paramètres pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest, HTMXTemplate
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.services import AuditEventService
from portal.auth.guards import principal_of, requires
from portal.auth.permissions import LABELS, Permission
from portal.auth.roles import DOSSIER_ROLE_PERMISSIONS, ROLE_PERMISSIONS
from portal.billing.services import BillingEntityService
from portal.clients.services import DossierService
from portal.firm.roles import DossierRole, FirmRole
from portal.firm.services import UserService
from portal.jobs.outbox import enqueue


class UserController(Controller):
    path = "/utilisateurs"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"users": Provide(create_service_provider(UserService))}

    @get("/", guards=[requires(Permission.USERS_READ)], name="firm:users")
    async def index(self, users: NamedDependency[UserService]) -> Template:
        return Template(template_name="firm/users.html", context={"users": await users.list_with_roles()})


class SettingsController(Controller):
    path = "/parametres"
    include_in_schema = False

    @get("/", guards=[requires(Permission.SETTINGS_READ)], name="firm:settings")
    async def general(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        principal = principal_of(request)
        billing = BillingEntityService(db_session)
        firm = await billing.firm()
        dossiers = DossierService(session=db_session)
        context = {
            "firm": firm,
            "entity": await dossiers.find_visible(principal, firm.billing_entity_id) if firm else None,
            "own_dossier": await dossiers.find_visible(principal, firm.own_dossier_id) if firm else None,
            "entity_choices": await billing.choices(principal),
            "last_run": await billing.last_client_creation(principal) if firm and firm.billing_entity_id else None,
        }
        return Template(template_name="firm/settings/general.html", context=context)

    @get("/roles", guards=[requires(Permission.SETTINGS_READ)], name="firm:roles")
    async def roles(self) -> Template:
        return Template(
            template_name="firm/settings/roles.html",
            context={
                "roles": list(FirmRole),
                "permissions": sorted(Permission, key=lambda p: p.value),
                "labels": LABELS,
                "matrix": ROLE_PERMISSIONS,
                "dossier_roles": list(DossierRole),
                "dossier_permissions": sorted(
                    {p for granted in DOSSIER_ROLE_PERMISSIONS.values() for p in granted}, key=lambda p: p.value
                ),
                "dossier_matrix": DOSSIER_ROLE_PERMISSIONS,
            },
        )

    @get(
        "/journal",
        guards=[requires(Permission.AUDIT_LOG_READ)],
        name="firm:audit_log",
        dependencies={"audit_events": Provide(create_service_provider(AuditEventService))},
    )
    async def audit_log(
        self,
        request: Request[Any, Any, Any],
        audit_events: NamedDependency[AuditEventService],
        page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Template:
        result = await audit_events.visible_page(principal_of(request), page=page)
        return Template(template_name="firm/settings/audit_log.html", context={"result": result})

    @get("/systeme", guards=[requires(Permission.JOBS_RUN_DIAGNOSTIC)], name="firm:system")
    async def system(self) -> Template:
        return Template(template_name="firm/settings/system.html")

    @post(
        "/systeme/diagnostic",
        guards=[requires(Permission.JOBS_RUN_DIAGNOSTIC)],
        name="firm:diagnostic",
        media_type=MediaType.HTML,
    )
    async def start_diagnostic(self, request: HTMXRequest, db_session: NamedDependency[AsyncSession]) -> Any:
        run = await enqueue(db_session, "jobs.diagnostic", created_by_id=principal_of(request).user_id)
        if request.htmx:
            # The run panel replaces the button and follows the run live.
            return HTMXTemplate(template_name="jobs/_partials/run.html", context={"run": run})
        return Redirect(f"/travaux/{run.id}", status_code=303)
