"""Firm roles: nobody changes their own, an administrator removes them (confirmed, audited, sessions
ended), and the firm always keeps an active partner and an active administrator."""

from __future__ import annotations

import asyncio
import html
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User, UserRole
from portal.accounts.services import load_principal
from portal.audit.models import AuditEvent
from portal.auth.roles import DossierRole, FirmRole
from portal.firm.services import UserError, UserService
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
OWN_ROLES = "Vous ne pouvez pas modifier vos propres rôles"


async def _as(client: Client, user: User) -> None:
    client.cookies.clear()
    assert (await sign_in(client, user.email, PASSWORD)).status_code == 303


async def _post(client: Client, path: str, data: dict[str, Any], page: str) -> httpx.Response:
    token = await csrf_token(client, page)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def _remove(client: Client, person: User, role: str, *, confirmed: bool = True) -> httpx.Response:
    data = {"role": role, **({"confirme": "oui"} if confirmed else {})}
    page = f"/utilisateurs/{person.id}"
    return await _post(client, f"{page}/roles-cabinet/retirer", data, page)


async def _roles(session: AsyncSession, person: User) -> set[FirmRole]:
    rows = await session.execute(select(UserRole.role).where(UserRole.user_id == person.id))
    return {FirmRole(role) for role in rows.scalars()}


async def test_nobody_changes_their_own_roles(client: Client, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await make_user(db_session, roles=(FirmRole.ADMIN,))
    dossier = await make_dossier(db_session, name="Boulangerie Martin")
    await add_role(db_session, admin, dossier, DossierRole.ACCOUNTANT)
    await _as(client, admin)

    # The invitation form applied to oneself: no partner made.
    data = {"email": admin.email.upper(), "nom": admin.name, "role_cabinet": "partner"}
    refused = await _post(client, "/utilisateurs/", data, "/utilisateurs/nouveau")
    assert refused.status_code == 422
    assert OWN_ROLES in html.unescape(refused.text)
    assert await _roles(db_session, admin) == {FirmRole.ADMIN}

    page = html.unescape((await client.get(f"/utilisateurs/{admin.id}")).text)
    assert "Retirer le rôle" not in page
    assert "Ajouter des rôles" not in page
    assert "Vos propres rôles se changent par un autre administrateur." in page
    refused = await _remove(client, admin, "admin")
    assert refused.status_code == 422
    assert OWN_ROLES in html.unescape(refused.text)
    refused = await _post(
        client,
        f"/utilisateurs/{admin.id}/roles/retirer",
        {"dossier": str(dossier.id), "role": "accountant"},
        f"/utilisateurs/{admin.id}",
    )
    assert refused.status_code == 422
    assert await _roles(db_session, admin) == {FirmRole.ADMIN}


async def test_an_administrator_removes_a_firm_role_once_confirmed(client: Client, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await make_user(db_session, roles=(FirmRole.PARTNER,))
    colleague = await make_user(db_session, roles=(FirmRole.PARTNER, FirmRole.COLLABORATOR), name="Paul Morel")
    epoch = colleague.session_epoch
    await _as(client, colleague)
    assert (await client.get("/parametres")).status_code == 200

    await _as(client, admin)
    page = html.unescape((await client.get(f"/utilisateurs/{colleague.id}")).text)
    assert page.count("Retirer le rôle") == 2
    assert "Paul Morel perdra le rôle « Associé » et ses sessions seront fermées." in page
    unconfirmed = await _remove(client, colleague, "partner", confirmed=False)
    assert unconfirmed.status_code == 422
    assert "Confirmez le retrait du rôle." in html.unescape(unconfirmed.text)
    assert await _roles(db_session, colleague) == {FirmRole.PARTNER, FirmRole.COLLABORATOR}

    removed = await _remove(client, colleague, "partner")
    assert removed.status_code == 303
    shown = html.unescape((await client.get(removed.headers["location"])).text)
    assert "Rôle « Associé » retiré à Paul Morel : ses sessions sont fermées." in shown
    assert await _roles(db_session, colleague) == {FirmRole.COLLABORATOR}
    await db_session.refresh(colleague)
    assert colleague.session_epoch == epoch + 1
    events = await db_session.execute(select(AuditEvent.after).where(AuditEvent.action == "user.remove_role"))
    assert list(events.scalars()) == [{"role": "partner"}]

    # Their session ended: signed in again, they are a collaborator now.
    await _as(client, colleague)
    assert (await client.get("/parametres")).status_code == 403


async def test_only_those_who_manage_users_remove_firm_roles(client: Client, db_session: AsyncSession) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    colleague = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await _as(client, partner)
    assert "Retirer le rôle" not in (await client.get(f"/utilisateurs/{colleague.id}")).text
    assert (await _remove(client, colleague, "collaborator")).status_code == 403
    assert await _roles(db_session, colleague) == {FirmRole.COLLABORATOR}


async def test_the_last_active_partner_and_administrator_remain(client: Client, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    other_admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    await _as(client, admin)
    refused = await _remove(client, partner, "partner")
    assert refused.status_code == 422
    assert "Claire Durand est le dernier associé actif du cabinet" in html.unescape(refused.text)
    page = f"/utilisateurs/{partner.id}"
    refused = await _post(client, f"{page}/desactiver", {}, page)
    assert refused.status_code == 422
    assert await _roles(db_session, partner) == {FirmRole.PARTNER}

    assert (await _remove(client, other_admin, "admin")).status_code == 303
    await _as(client, partner)  # a partner cannot manage users; the last admin stays an admin anyway
    assert (await _remove(client, admin, "admin")).status_code == 403
    assert await db_session.scalar(
        select(func.count()).select_from(UserRole).where(UserRole.role == FirmRole.ADMIN)
    ) == 1  # fmt: skip


async def test_two_concurrent_removals_leave_one_partner(committed: async_sessionmaker[AsyncSession]) -> None:
    async with committed() as session, session.begin():
        admin = await make_user(session, roles=(FirmRole.ADMIN,))
        first = await make_user(session, roles=(FirmRole.PARTNER,))
        second = await make_user(session, roles=(FirmRole.PARTNER,))

    async def remove(person: User) -> bool:
        async with committed() as session:
            principal = await load_principal(session, admin.id, admin.session_epoch)
            assert principal is not None
            target = await session.get(User, person.id)
            assert target is not None
            try:
                await UserService(session=session).remove_firm_role(principal, target, FirmRole.PARTNER)
            except UserError:
                await session.rollback()
                return False
            await asyncio.sleep(0.2)  # the other removal counts while this one is not committed yet
            await session.commit()
            return True

    outcomes = await asyncio.gather(remove(first), remove(second))
    assert sorted(outcomes) == [False, True]
    async with committed() as session:
        partners = await session.scalar(
            select(func.count()).select_from(UserRole).where(UserRole.role == FirmRole.PARTNER)
        )
    assert partners == 1
