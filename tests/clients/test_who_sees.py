"""The confidentiality box says who sees the dossier and why, as the permission rule decides it: each person
listed as seeing it opens it, each listed as not seeing it gets 404, confidential or not."""

from __future__ import annotations

import html
import re
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import DossierAccess
from tests.browsing import csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user

Client = httpx.AsyncClient
CHOICE = re.compile(
    r'<div class="access-choice" data-voit="(?P<sees>oui|non)">.*?value="(?P<id>[0-9a-f-]{36})".*?'
    r'<p class="access-why">(?P<why>.*?)</p>',
    re.DOTALL,
)


async def _switch_to(client: Client, user: User) -> None:
    client.cookies.clear()
    assert (await sign_in(client, user.email, PASSWORD)).status_code in {302, 303}


async def _box(client: Client, dossier_id: uuid.UUID) -> dict[uuid.UUID, tuple[bool, str]]:
    """Each person of the box: (sees, why in words)."""
    panel = await client.get(f"/entreprises/{dossier_id}/volet", params={"onglet": "infos"})
    assert panel.status_code == 200
    found = {}
    for match in CHOICE.finditer(panel.text):
        why = html.unescape(re.sub(r"<[^>]+>", "", match["why"])).strip()
        found[uuid.UUID(match["id"])] = (match["sees"] == "oui", " ".join(why.split()))
    return found


async def test_the_box_tells_who_sees_the_dossier_and_why_as_the_rule_enforces_it(
    client: Client, db_session: AsyncSession
) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    other_partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Marc Lefèvre")
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,), name="Sophie Admin")
    accountant = await make_user(db_session, name="Julie Bernard")
    employee = await make_user(db_session, name="Thomas Petit")
    ticked = await make_user(db_session, name="Léa Cochée")
    nobody = await make_user(db_session, name="Paul Sansrôle")
    dossier = await make_dossier(db_session, name="Holding Discrète")
    await add_role(db_session, accountant, dossier, DossierRole.ACCOUNTANT)
    await add_role(db_session, employee, dossier, DossierRole.EMPLOYEE)
    await _switch_to(client, partner)

    panel = html.unescape((await client.get(f"/entreprises/{dossier.id}/volet")).text)
    assert "Seules les personnes cochées ci-dessous verront ce dossier" not in panel  # it was untrue
    assert "et par celles qui ont un rôle sur ce dossier" in panel

    box = await _box(client, dossier.id)
    assert box[admin.id] == (True, "Voit ce dossier Administrateur : voit les dossiers non confidentiels")
    assert box[other_partner.id] == (True, "Voit ce dossier Associé : voit les dossiers non confidentiels")
    assert box[accountant.id] == (True, "Voit ce dossier Comptable sur ce dossier")
    assert box[employee.id] == (True, "Voit ce dossier Employé sur ce dossier")
    assert box[nobody.id] == (False, "Ne voit pas ce dossier")
    assert box[ticked.id] == (False, "Ne voit pas ce dossier")

    token = await csrf_token(client, f"/entreprises/{dossier.id}")
    marked = await client.post(
        f"/entreprises/{dossier.id}/confidentialite",
        data={"_csrf_token": token, "confidentielle": "on", "acces": [str(ticked.id)]},
        follow_redirects=False,
    )
    assert marked.status_code == 303
    box = await _box(client, dossier.id)
    assert box[partner.id] == (True, "Voit ce dossier coché ci-dessous")  # the person acting stays on the list
    assert box[ticked.id] == (True, "Voit ce dossier coché ci-dessous")
    assert box[accountant.id] == (True, "Voit ce dossier Comptable sur ce dossier")  # not ticked, and sees it
    assert box[employee.id] == (True, "Voit ce dossier Employé sur ce dossier")
    assert box[other_partner.id] == (False, "Ne voit pas ce dossier")  # partners included
    assert box[admin.id] == (False, "Ne voit pas ce dossier")
    assert box[nobody.id] == (False, "Ne voit pas ce dossier")

    people = {user.id: user for user in (other_partner, admin, accountant, employee, ticked, nobody)}
    for user_id, (sees, _why) in box.items():
        if user_id not in people:
            continue
        await _switch_to(client, people[user_id])
        opened = await client.get(f"/entreprises/{dossier.id}")
        assert opened.status_code == (200 if sees else 404), people[user_id].name


async def test_a_ticked_collaborator_sees_a_dossier_that_is_not_confidential_and_the_box_says_so(
    client: Client, db_session: AsyncSession
) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    collaborator = await make_user(db_session)
    dossier = await make_dossier(db_session, name="Garage du Centre")
    db_session.add(DossierAccess(dossier_id=dossier.id, user_id=collaborator.id, granted_by_id=partner.id))
    await db_session.flush()
    await _switch_to(client, partner)
    assert (await _box(client, dossier.id))[collaborator.id] == (True, "Voit ce dossier coché ci-dessous")
    await _switch_to(client, collaborator)
    assert (await client.get(f"/entreprises/{dossier.id}")).status_code == 200
