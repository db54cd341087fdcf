"""Roles on a dossier: a Comptable sees their dossiers and no other, an Employé the firm's own."""

from __future__ import annotations

import html
import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.accounts.services import load_principal
from portal.auth.permissions import LABELS, Permission
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.services import DossierService
from tests.browsing import sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

ROW = re.compile(r'<tr data-dossier="[0-9a-f-]+">\s*<td><a href="/entreprises/[0-9a-f-]+">([^<]*)</a>')
NAV = re.compile(r'<nav class="main-nav".*?</nav>', re.DOTALL)


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [html.unescape(name) for name in ROW.findall(response.text)]


async def _as(client: httpx.AsyncClient, user: User) -> None:
    client.cookies.clear()
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code in {302, 303}


async def test_a_comptable_sees_their_dossiers_and_no_other(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    dossier_a = await make_dossier(db_session, name="Boulangerie Martin")
    dossier_b = await make_dossier(db_session, name="Garage Dupont")
    secret = await make_dossier(db_session, name="Holding Secrète", is_confidential=True)
    comptable = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, comptable, dossier_a, DossierRole.ACCOUNTANT)
    await add_role(db_session, comptable, secret, DossierRole.ACCOUNTANT)
    await _as(client, comptable)

    assert _names(await client.get("/entreprises")) == ["Boulangerie Martin", "Holding Secrète"]
    assert _names(await client.get("/entreprises/mes-dossiers")) == ["Boulangerie Martin", "Holding Secrète"]
    assert (await client.get(f"/entreprises/{dossier_a.id}")).status_code == 200
    # Dossier B is not theirs: it does not exist for them, by every way in.
    assert (await client.get(f"/entreprises/{dossier_b.id}")).status_code == 404
    assert (await client.get(f"/entreprises/{dossier_b.id}/volet")).status_code == 404
    assert _names(await client.get("/entreprises", params={"q": "garage"})) == []
    assert "Garage Dupont" not in (await client.get("/entreprises/mes-dossiers", params={"q": "garage"})).text
    # The menu offers Mes dossiers.
    assert "/entreprises/mes-dossiers" in NAV.search((await client.get("/entreprises")).text).group(0)  # type: ignore[union-attr]


async def test_an_employee_of_the_firm_dossier_is_no_comptable(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    firm_dossier = await make_dossier(db_session, name="Cabinet Durand", is_firm_dossier=True)
    await make_dossier(db_session, name="Boulangerie Martin")
    employee = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, employee, firm_dossier, DossierRole.EMPLOYEE)
    await _as(client, employee)

    assert _names(await client.get("/entreprises")) == ["Cabinet Durand"]
    assert _names(await client.get("/entreprises/mes-dossiers")) == []
    page = (await client.get("/entreprises")).text
    menu = NAV.search(page).group(0)  # type: ignore[union-attr]
    assert "/entreprises/mes-dossiers" not in menu
    assert "/notes-de-frais" in menu


async def test_permissions_follow_the_role_on_the_dossier_at_hand(db_session: AsyncSession) -> None:
    firm_dossier = await make_dossier(db_session, name="Cabinet Durand", is_firm_dossier=True)
    client_dossier = await make_dossier(db_session, name="Boulangerie Martin")
    person = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, person, client_dossier, DossierRole.ACCOUNTANT)
    await add_role(db_session, person, firm_dossier, DossierRole.EMPLOYEE)

    principal = await load_principal(db_session, person.id, person.session_epoch)
    assert principal is not None
    assert principal.roles_on(client_dossier.id) == {DossierRole.ACCOUNTANT}
    assert principal.roles_on(firm_dossier.id) == {DossierRole.EMPLOYEE}
    # Employé on the firm's dossier: files expense notes there, and nowhere else.
    assert principal.can(Permission.EXPENSES_FILE, firm_dossier.id)
    assert not principal.can(Permission.EXPENSES_FILE, client_dossier.id)
    assert not principal.can(Permission.EXPENSES_FILE)
    assert not principal.can(Permission.EXPENSES_APPROVE, firm_dossier.id)
    assert principal.can_somewhere(Permission.EXPENSES_FILE)
    assert principal.dossiers_as(DossierRole.ACCOUNTANT) == [client_dossier.id]


async def test_a_partner_not_granted_a_confidential_dossier_does_not_see_it_for_its_members(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    secret = await make_dossier(db_session, name="Holding Secrète", is_confidential=True)
    comptable = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await add_role(db_session, comptable, secret, DossierRole.ACCOUNTANT)
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await _as(client, partner)

    assert "Holding Secrète" not in _names(await client.get("/entreprises"))
    assert (await client.get(f"/entreprises/{secret.id}")).status_code == 404


async def test_the_roles_page_shows_what_each_dossier_role_grants(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await _as(client, partner)
    page = html.unescape((await client.get("/parametres/roles")).text)
    assert "Rôles sur un dossier" in page
    for label in ("Comptable", "Employé", "Gestionnaire de facturation", "Utilisateur client"):
        assert label in page
    assert LABELS[Permission.EXPENSES_FILE] in page


async def test_the_side_panel_lists_each_persons_roles_on_the_dossier(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    firm_dossier = await make_dossier(db_session, name="Cabinet Durand", is_firm_dossier=True)
    person = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Camille Petit")
    await add_role(db_session, person, firm_dossier, DossierRole.BILLING_MANAGER)
    await add_role(db_session, person, firm_dossier, DossierRole.EMPLOYEE)
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    await _as(client, partner)

    response = await client.get(f"/entreprises/{firm_dossier.id}/volet", params={"onglet": "utilisateurs"})
    assert response.status_code == 200
    row = re.search(r"Camille Petit.*?</tr>", html.unescape(response.text), re.DOTALL)
    assert row is not None
    assert "Employé" in row.group(0)
    assert "Gestionnaire de facturation" in row.group(0)


async def _client_user(session: AsyncSession, name: str) -> User:
    """Someone of a client company: no firm role at all."""
    user = User(email=f"{name.rsplit(maxsplit=1)[-1].lower()}@client.fr", name=name)
    session.add(user)
    await session.flush()
    return user


async def test_the_access_list_offers_the_firms_people_not_other_dossiers_client_users(
    db_session: AsyncSession,
) -> None:
    dossier = await make_dossier(db_session, name="Boulangerie Martin")
    other = await make_dossier(db_session, name="Garage Dupont")
    colleague = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Collègue du cabinet")
    outsider = await _client_user(db_session, "Client du garage")
    await add_role(db_session, outsider, other, DossierRole.CLIENT_USER)
    insider = await _client_user(db_session, "Client de la boulangerie")
    await add_role(db_session, insider, dossier, DossierRole.CLIENT_USER)
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    principal = await load_principal(db_session, partner.id, partner.session_epoch)
    assert principal is not None

    services = DossierService(session=db_session)
    offered = {choice.user.name for choice in await services.access_choices(dossier)}
    assert {"Collègue du cabinet", "Client de la boulangerie"} <= offered
    assert "Client du garage" not in offered
    # Posting the outsider's id anyway grants nothing.
    await services.set_confidentiality(principal, dossier, confidential=True, user_ids=[outsider.id, colleague.id])
    granted = {choice.user.name for choice in await services.access_choices(dossier) if choice.granted}
    assert granted == {"Collègue du cabinet", partner.name}
