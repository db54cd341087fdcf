"""One permission model for every route: guards on pages, restriction on rows, friendly refusals."""

from __future__ import annotations

import html
import re

import httpx
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import AREAS, DESCRIPTIONS, LABELS, Permission
from portal.auth.roles import DOSSIER_ROLE_PERMISSIONS, ROLE_PERMISSIONS, FirmRole
from portal.jobs.diagnostic import diagnostic
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.routes import handlers

Client = httpx.AsyncClient


def _handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    return handlers(app)


def _is_public(handler: HTTPRouteHandler) -> bool:
    return bool(handler.opt.get("exclude_from_auth"))


PUBLIC_ROUTES = {
    "/connexion",
    "/connexion/code",  # a sign-in's second step: it acts only on the pending marker its first step left
    "/langue",
    "/healthz",
    "/static/{file_path:path}",
    "/invitation/{token:str}",
    "/lettre-de-mission/{token:str}",  # a lettre de mission's link: the letter, and its acceptance (once)
    "/lettre-de-mission/{token:str}/pdf",
    "/mot-de-passe-oublie",
    "/mot-de-passe/{token:str}",
    "/connexion/oidc/{provider:str}",
    "/connexion/oidc/{provider:str}/retour",
}


def test_every_route_is_either_public_or_guarded(app: Litestar) -> None:
    for path, handler in _handlers(app):
        if _is_public(handler):
            assert path in PUBLIC_ROUTES, f"{path} is public but not in the reviewed list"
            continue
        guards = [guard for layer in handler.ownership_layers for guard in (layer.guards or [])]
        assert guards, f"{path} ({handler.handler_name}) has no guard"
        assert all(hasattr(guard, "permissions") for guard in guards), f"{path} has a guard outside the model"


async def test_every_protected_page_sends_anonymous_visitors_to_sign_in(app: Litestar, client: Client) -> None:
    for path, handler in _handlers(app):
        if _is_public(handler):
            continue
        concrete = re.sub(r"\{\w+:uuid\}", "01a2036b-692c-7478-92e2-9245f5f75a1b", path)
        for method in handler.http_methods:
            response = await client.request(method, concrete, follow_redirects=False)
            if method == "GET":
                assert response.status_code in {302, 303}, (method, path, response.status_code)
                assert response.headers["location"].startswith("/connexion")
            else:
                # No session, hence no CSRF cookie either: refused before the handler.
                assert response.status_code in {302, 303, 401, 403}, (method, path, response.status_code)


async def test_collaborator_is_refused_firm_settings(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await sign_in(client, user.email, PASSWORD)
    page = await client.get("/entreprises")
    assert ">Paramètres</a>" not in page.text
    assert ">Utilisateurs</a>" in page.text
    refused = await client.get("/parametres")
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text
    assert (await client.get("/utilisateurs")).status_code == 200


async def test_dossiers_are_listed_through_the_restriction(client: Client, db_session: AsyncSession) -> None:
    await make_dossier(db_session, name="Boulangerie Martin")
    collaborator = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await sign_in(client, collaborator.email, PASSWORD)
    page = await client.get("/entreprises")
    assert "Boulangerie Martin" not in page.text
    assert "0 dossier" in page.text
    client.cookies.clear()
    await sign_in(client, partner.email, PASSWORD)
    page = await client.get("/entreprises")
    assert "Boulangerie Martin" in page.text


async def test_role_matrix_is_rendered_from_the_table(client: Client, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await sign_in(client, admin.email, PASSWORD)
    page = await client.get("/parametres/roles")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for permission in Permission:
        assert permission.value not in text  # words, not codes
        assert LABELS[permission] in text
        assert DESCRIPTIONS[permission] in text
    for area, _permissions in AREAS:
        assert f'colspan="4">{area}</th>' in text
    firm_wide = sum(len(granted) for granted in ROLE_PERMISSIONS.values())
    on_a_dossier = sum(len(granted) for granted in DOSSIER_ROLE_PERMISSIONS.values())
    assert page.text.count("✓") == firm_wide + on_a_dossier


def test_every_permission_has_words_and_one_area() -> None:
    listed = [permission for _area, permissions in AREAS for permission in permissions]
    assert sorted(listed) == sorted(Permission)
    assert set(LABELS) == set(DESCRIPTIONS) == set(Permission)


async def test_someone_elses_job_run_is_not_found(client: Client, db_session: AsyncSession) -> None:
    owner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    other = await make_user(db_session, roles=(FirmRole.PARTNER,))
    run = await diagnostic.options(created_by_id=owner.id).enqueue(db_session)
    await db_session.flush()
    await sign_in(client, other.email, PASSWORD)
    response = await client.get(f"/travaux/{run.id}")
    assert response.status_code == 404
    assert "Page introuvable" in response.text
    assert "Diagnostic du système" not in (await client.get("/travaux")).text
    client.cookies.clear()
    await sign_in(client, owner.email, PASSWORD)
    assert (await client.get(f"/travaux/{run.id}")).status_code == 200


async def test_unknown_page_gets_the_friendly_404(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    response = await client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in response.text
