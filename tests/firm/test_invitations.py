"""Utilisateurs: inviting people, their roles per dossier, deactivating them, and the invitation link's page.

Emails are not sent here (the outbox is not relayed in these rolled-back tests); see
``tests/firm/test_invitation_mail.py`` for the email over real SMTP.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User, UserRole
from portal.audit.models import AuditEvent
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.firm.invitations import InvitationService, InviteError, grantable_firm_roles, token_digest
from portal.firm.models import Invitation
from portal.jobs.models import JobRun
from tests.browsing import CSRF_FIELD, csrf_token, sign_in
from tests.factories.clients import make_dossier
from tests.factories.expenses import principal_of
from tests.factories.firm import PASSWORD, add_role, make_firm, make_user

Client = httpx.AsyncClient
NEW_PASSWORD = "un-mot-de-passe-bien-long"
INVALID_EMAIL = "Adresse e-mail invalide : saisissez une adresse de la forme prenom.nom@exemple.fr."


async def _as(client: Client, user: User) -> None:
    client.cookies.clear()
    response = await sign_in(client, user.email, PASSWORD)
    assert response.status_code == 303, response.text


async def _post(client: Client, path: str, data: dict[str, Any], *, page: str = "/utilisateurs") -> httpx.Response:
    token = await csrf_token(client, page)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def _invite(browser: Client, **data: Any) -> httpx.Response:
    return await _post(browser, "/utilisateurs/", data, page="/utilisateurs/nouveau")


def _text(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _state(session: AsyncSession) -> dict[str, int]:
    """How many rows an invitation could write, read fresh."""
    models = (User, UserRole, DossierMembership, Invitation, JobRun, AuditEvent)
    return {model.__name__: await _count(session, model) for model in models}


async def _pending(session: AsyncSession, email: str, dossier: Dossier, token: str | None = None) -> User:
    """Someone invited (as a client user of ``dossier``) who has not chosen a password; ``token`` is their link."""
    person = User(email=email, name=email.partition("@")[0].title(), roles=[])
    session.add(person)
    await session.flush()
    session.add(DossierMembership(dossier_id=dossier.id, user_id=person.id, role=DossierRole.CLIENT_USER))
    session.add(
        Invitation(
            user_id=person.id,
            token_hash=token_digest(token) if token else None,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=7) if token else None,
            deliveries_sent=1 if token else 0,
            sent_at=dt.datetime.now(dt.UTC) if token else None,
        )
    )
    await session.flush()
    return person


# --- who may invite -----------------------------------------------------------------------


async def test_a_collaborator_sees_people_but_cannot_invite(client: Client, db_session: AsyncSession) -> None:
    collaborator = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await _as(client, collaborator)
    page = await client.get("/utilisateurs")
    assert page.status_code == 200
    assert 'href="/utilisateurs/nouveau"' not in page.text
    assert (await client.get("/utilisateurs/nouveau")).status_code == 403
    assert (await client.get("/utilisateurs/dossiers?q=a")).status_code == 403
    before = await _state(db_session)
    refused = await _post(client, "/utilisateurs/", {"email": "x@y.fr", "nom": "X", "collaborateur": "on"})
    assert refused.status_code == 403
    assert await _state(db_session) == before


async def test_a_partner_names_partners_and_administrators_an_administrator_administrators_only(
    client: Client, db_session: AsyncSession
) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await _as(client, partner)
    form = _text(await client.get("/utilisateurs/nouveau"))
    assert '<option value="partner">Associé</option>' in form
    assert '<option value="admin">Administrateur</option>' in form
    for email, role, held in (("nouvel.associe@cabinet.fr", "partner", FirmRole.PARTNER),
                              ("nouvelle.admin@cabinet.fr", "admin", FirmRole.ADMIN)):  # fmt: skip
        created = await _invite(client, email=email, nom="Nouvelle Personne", role_cabinet=role)
        assert created.status_code == 303, _text(created)
        person = (await db_session.execute(select(User).where(User.email == email))).scalar_one()
        await db_session.refresh(person, ["roles"])
        assert person.firm_roles == {held}

    await _as(client, admin)
    form = _text(await client.get("/utilisateurs/nouveau"))
    assert '<option value="admin">Administrateur</option>' in form
    assert '<option value="partner">' not in form  # not theirs to give: not offered
    created = await _invite(client, email="autre.admin@cabinet.fr", nom="Autre Admin", role_cabinet="admin")
    assert created.status_code == 303, _text(created)


async def test_a_forged_firm_role_the_inviter_does_not_hold_is_refused_403_and_nothing_changes(
    client: Client, db_session: AsyncSession
) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await make_user(db_session, roles=(FirmRole.PARTNER,))
    existing = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), email="deja.la@cabinet.fr")
    await _as(client, admin)
    before = await _state(db_session)
    # The form does not offer Associé to an administrator: the field is forged.
    for email in ("nouvel.associe@cabinet.fr", existing.email):
        refused = await _invite(client, email=email, nom="Nouvel Associé", role_cabinet="partner")
        assert refused.status_code == 403
        assert "Seul un associé peut nommer un associé." in _text(refused)
        assert await _state(db_session) == before
    await db_session.refresh(existing, ["roles"])
    assert existing.firm_roles == {FirmRole.COLLABORATOR}
    assert (await db_session.execute(select(User).where(User.email == "nouvel.associe@cabinet.fr"))).first() is None


async def test_the_service_refuses_a_firm_role_above_the_inviters_own(db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    principal = await principal_of(db_session, admin)
    assert grantable_firm_roles(principal) == (FirmRole.ADMIN, FirmRole.COLLABORATOR)
    with pytest.raises(InviteError) as refused:
        await InvitationService(session=db_session).invite(
            principal, email="x@cabinet.fr", name="X", firm_roles=[FirmRole.PARTNER]
        )
    assert refused.value.status == 403
    assert refused.value.message == "Seul un associé peut nommer un associé."
    partner = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.PARTNER,)))
    assert grantable_firm_roles(partner) == (FirmRole.PARTNER, FirmRole.ADMIN, FirmRole.COLLABORATOR)
    collaborator = await principal_of(db_session, await make_user(db_session, roles=(FirmRole.COLLABORATOR,)))
    assert grantable_firm_roles(collaborator) == ()


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "pas-une-adresse", "nom": "Claire", "client": "{client}"}, INVALID_EMAIL),
        # Accepted before: the sending job then failed five times on it, with a traceback.
        ({"email": 'xss."><svg/onload=alert(5)>@cabinet-durand.fr', "nom": "X", "client": "{client}"}, INVALID_EMAIL),
        ({"email": "claire@exemple", "nom": "Claire", "client": "{client}"}, INVALID_EMAIL),
        ({"email": "claire..martin@exemple.fr", "nom": "Claire", "client": "{client}"}, INVALID_EMAIL),
        (
            {"email": "élodie@exemple.fr", "nom": "Élodie", "client": "{client}"},
            "Adresse e-mail invalide : pas de lettre accentuée avant le @.",
        ),
        ({"email": "claire@exemple.fr", "nom": "  ", "client": "{client}"}, "Le nom est obligatoire."),
        ({"email": "claire@exemple.fr", "nom": "Claire"}, "Choisissez au moins un rôle."),
        ({"email": "claire@exemple.fr", "nom": "Claire", "client": "pas-un-id"}, "Dossier introuvable."),
        ({"email": "claire@exemple.fr", "nom": "Claire", "client": "{missing}"}, "Dossier introuvable."),
        (
            {"email": "claire@exemple.fr", "nom": "Claire", "client": "{firm}"},
            "Le rôle « Utilisateur client » ne s'attribue que sur un dossier client.",
        ),
        (
            {"email": "claire@exemple.fr", "nom": "Claire", "employe": "on", "dossier_cabinet": "{client}"},
            "Le rôle « Employé » ne s'attribue que sur un dossier du cabinet.",
        ),
        (
            {"email": "claire@exemple.fr", "nom": "Claire", "facturation": "on", "dossier_cabinet": ""},
            "Choisissez le dossier du cabinet.",
        ),
        (
            {"email": "claire@exemple.fr", "nom": "Claire", "comptable": ["{client}", "{missing}"]},
            "Dossier introuvable.",
        ),
    ],
)
async def test_bad_input_gets_a_french_message_and_nothing_is_written(
    client: Client, db_session: AsyncSession, fields: dict[str, Any], message: str
) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    values = {
        "client": str((await make_dossier(db_session, name="Boulangerie Martin")).id),
        "firm": str((await make_dossier(db_session, name="Cabinet Lumière", is_firm_dossier=True)).id),
        "missing": str(uuid.uuid4()),
    }
    data = {
        key: [item.format(**values) for item in value] if isinstance(value, list) else value.format(**values)
        for key, value in fields.items()
    }
    await _as(client, admin)
    before = await _state(db_session)
    response = await _invite(client, **data)
    assert response.status_code == 422
    text = _text(response)
    assert message in text
    assert "L'invitation n'a pas été envoyée" in text
    assert f'value="{data["email"]}"' in text  # the form keeps what was typed
    assert await _state(db_session) == before


# --- confidentiality ----------------------------------------------------------------------


async def test_a_dossier_hidden_from_the_inviter_can_be_neither_found_nor_granted(
    client: Client, db_session: AsyncSession
) -> None:
    outsider = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Paul Tenu-Àlécart")
    insider = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Inès Habilitée")
    await make_dossier(db_session, name="Sésame Visible SARL")
    secret = await make_dossier(db_session, name="Sésame Secret SAS", is_confidential=True)
    await add_role(db_session, insider, secret, DossierRole.ACCOUNTANT)

    await _as(client, outsider)
    found = await client.get("/utilisateurs/dossiers", params={"role": "client", "q": "sésame"})
    assert found.status_code == 200
    assert "Sésame Visible SARL" in _text(found)
    assert "Sésame Secret" not in _text(found)
    # Even sent back as "already chosen", it is not shown.
    chosen = await client.get(
        "/utilisateurs/dossiers",
        params={"role": "comptable", "comptable": str(secret.id)},
        headers={"HX-Request": "true"},
    )
    assert "Sésame Secret" not in _text(chosen)
    assert str(secret.id) not in chosen.text
    assert "<html" not in chosen.text

    before = await _state(db_session)
    refused = await _invite(client, email="espion@exemple.fr", nom="Espion", client=str(secret.id))
    missing = await _invite(client, email="espion@exemple.fr", nom="Espion", client=str(uuid.uuid4()))
    assert refused.status_code == missing.status_code == 422
    assert "Dossier introuvable." in _text(refused)
    assert "Sésame Secret" not in _text(refused)
    assert str(secret.id) not in refused.text
    assert CSRF_FIELD.sub("", refused.text) == CSRF_FIELD.sub("", missing.text)  # exactly as for no dossier at all
    refused = await _invite(client, email="espion@exemple.fr", nom="Espion", comptable=str(secret.id))
    assert refused.status_code == 422
    assert await _state(db_session) == before

    # The control: someone it is granted to finds it and grants it.
    await _as(client, insider)
    assert "Sésame Secret SAS" in _text(
        await client.get("/utilisateurs/dossiers", params={"role": "client", "q": "sésame"})
    )
    granted = await _invite(client, email="dirigeant@sesame.fr", nom="Dirigeant Sésame", client=str(secret.id))
    assert granted.status_code == 303


FLASH = re.compile(r'<p class="flash flash-(\w+)" role="status">([^<]*)</p>')


async def _answer(browser: Client, email: str, fields: dict[str, str]) -> tuple[int, str, list[tuple[str, str]]]:
    """What the inviter is told: the status, where they are sent, and the message shown there (address masked)."""
    response = await _invite(browser, email=email, **fields)
    if response.status_code != 303:
        errors = re.findall(r'class="field-error"[^>]*>([^<]*)<', response.text)
        return response.status_code, "", [("error", html.unescape(text)) for text in errors or [response.text]]
    location = response.headers["location"]
    shown = FLASH.findall((await browser.get(location)).text)
    return 303, location, [(kind, html.unescape(text).replace(email, "ADRESSE")) for kind, text in shown]


async def test_an_address_of_someone_hidden_from_the_inviter_is_answered_as_a_new_one_and_changes_nothing(
    client: Client, db_session: AsyncSession
) -> None:
    """A partner not granted a confidential dossier invites, by address, people only that dossier has: a
    client user still invited, one who signs in, one deactivated. Each answer is the one a brand-new address
    gets (the words, the status, the page it leads to, the same refusal without a name); nobody is given a
    role or emailed, and what the log keeps of it is about the person, so the partner never reads it."""
    outsider = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Paul Tenu-Àlécart")
    insider = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Inès Habilitée")
    secret = await make_dossier(db_session, name="Alpha Confidentiel", is_confidential=True)
    await add_role(db_session, insider, secret, DossierRole.ACCOUNTANT)
    pending = await _pending(db_session, "dirigeant@alpha.fr", secret, token="jeton-du-dirigeant-d-alpha")
    active = await _pending(db_session, "directrice@alpha.fr", secret)
    active.password_hash = "argon2-du-test"
    gone = await _pending(db_session, "ancien@alpha.fr", secret)
    gone.is_active = False
    await db_session.flush()
    hidden = [pending, active, gone]
    hidden_ids = [person.id for person in hidden]

    async def about_them() -> dict[str, Any]:
        def rows(*columns: Any) -> Any:
            return select(*columns).order_by(*columns)

        return {
            "roles": (await db_session.execute(rows(UserRole.user_id).where(UserRole.user_id.in_(hidden_ids)))).all(),
            "memberships": (
                await db_session.execute(
                    rows(DossierMembership.user_id, DossierMembership.dossier_id, DossierMembership.role).where(
                        DossierMembership.user_id.in_(hidden_ids)
                    )
                )
            ).all(),
            "invitations": (
                await db_session.execute(
                    rows(Invitation.user_id, Invitation.deliveries_requested, Invitation.token_hash).where(
                        Invitation.user_id.in_(hidden_ids)
                    )
                )
            ).all(),
            "people": (
                await db_session.execute(rows(User.id, User.name, User.is_active).where(User.id.in_(hidden_ids)))
            ).all(),
        }

    await _as(client, outsider)
    before = await about_them()
    runs_before = await _count(db_session, JobRun)
    visible_dossier = await make_dossier(db_session, name="Boulangerie Martin")
    requests = ({"nom": "Quelqu'un", "collaborateur": "on"}, {"nom": "Quelqu'un", "client": str(visible_dossier.id)})
    for number, fields in enumerate(requests):
        new = await _answer(client, f"nouveau{number}@exemple.fr", fields)
        assert new == (303, "/utilisateurs/", [("success", "Invitation envoyée à ADRESSE.")])
        for person in hidden:
            assert await _answer(client, person.email, fields) == new, person.email
        # Without a name: the refusal a new address gets, not what an existing person would.
        nameless = {**fields, "nom": ""}
        new_nameless = await _answer(client, "encore.nouveau@exemple.fr", nameless)
        assert new_nameless[0] == 422
        assert ("error", "Le nom est obligatoire.") in new_nameless[2]
        for person in hidden:
            assert await _answer(client, person.email, nameless) == new_nameless, person.email
    assert await about_them() == before
    runs = (await db_session.execute(select(JobRun.person_id))).scalars().all()
    assert len(runs) == runs_before + 2  # the two new people's invitations only
    assert not set(runs) & set(hidden_ids)
    # The attempts are kept about each person: read by those who see them, never by the partner.
    withheld = (
        (await db_session.execute(select(AuditEvent.person_id).where(AuditEvent.action == "user.invite_withheld")))
        .scalars()
        .all()
    )
    assert sorted(withheld) == sorted(hidden_ids * 2)  # the two requests with a name
    journal = _text(await client.get("/parametres/journal"))
    assert "qui ne lui est pas visible" not in journal
    assert not any(person.email in journal or str(person.id) in journal for person in hidden)

    await _as(client, insider)
    assert "qui ne lui est pas visible : rien n'a changé" in _text(await client.get("/parametres/journal"))


async def test_the_list_shows_roles_per_dossier_counting_only_the_dossiers_the_viewer_sees(
    client: Client, db_session: AsyncSession
) -> None:
    outsider = await make_user(db_session, roles=(FirmRole.PARTNER,))
    insider = await make_user(db_session, roles=(FirmRole.PARTNER,))
    comptable = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Zoé Comptable")
    names = ["Boulangerie Martin", "Garage Dupont", "Imprimerie Leroy", "Menuiserie Petit"]
    for name in names:
        await add_role(db_session, comptable, await make_dossier(db_session, name=name), DossierRole.ACCOUNTANT)
    secret = await make_dossier(db_session, name="Alpha Confidentiel", is_confidential=True)
    await add_role(db_session, comptable, secret, DossierRole.ACCOUNTANT)
    await add_role(db_session, insider, secret, DossierRole.ACCOUNTANT)
    secret_client = await _pending(db_session, "dirigeant@alpha.fr", secret, token=None)
    visible_client = await _pending(
        db_session, "gerante@boulangerie.fr", await make_dossier(db_session, name="Boulangerie Rose")
    )

    await _as(client, outsider)
    page = _text(await client.get("/utilisateurs"))
    row = re.search(r'<tr data-user="' + str(comptable.id) + r'">.*?</tr>', page, re.DOTALL)
    assert row
    assert "Comptable : Boulangerie Martin, Garage Dupont" in row.group(0)
    assert "(+2)" in row.group(0)
    assert "Alpha" not in page
    assert "dirigeant@alpha.fr" not in page  # a client user of a hidden dossier only: not someone they know of
    assert "gerante@boulangerie.fr" in page
    assert (await client.get(f"/utilisateurs/{secret_client.id}")).status_code == 404
    detail = _text(await client.get(f"/utilisateurs/{comptable.id}"))
    assert all(name in detail for name in names)
    assert "Alpha" not in detail
    assert (await client.get("/utilisateurs", params={"q": "alpha"})).status_code == 200
    assert "dirigeant@alpha.fr" not in (await client.get("/utilisateurs", params={"q": "alpha"})).text
    assert "gerante@boulangerie.fr" in (await client.get("/utilisateurs", params={"q": "GERANTE"})).text

    await _as(client, insider)
    page = _text(await client.get("/utilisateurs"))
    row = re.search(r'<tr data-user="' + str(comptable.id) + r'">.*?</tr>', page, re.DOTALL)
    assert row
    assert "Comptable : Alpha Confidentiel, Boulangerie Martin" in row.group(0)
    assert "(+3)" in row.group(0)
    assert "dirigeant@alpha.fr" in page
    assert "Utilisateur client : Alpha Confidentiel" in page
    assert (await client.get(f"/utilisateurs/{secret_client.id}")).status_code == 200
    assert visible_client.id


async def test_statuses_follow_the_invitation(client: Client, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    dossier = await make_dossier(db_session, name="Boulangerie Martin")
    invited = await _pending(db_session, "invitee@client.fr", dossier, token="jeton-statut-envoye")
    expired = await _pending(db_session, "expiree@client.fr", dossier, token="jeton-statut-expire")
    revoked = await _pending(db_session, "revoquee@client.fr", dossier, token="jeton-statut-revoque")
    gone = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), email="parti@cabinet.fr")
    for invitation in (await db_session.execute(select(Invitation))).scalars():
        if invitation.user_id == expired.id:
            invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        if invitation.user_id == revoked.id:
            invitation.revoked_at = dt.datetime.now(dt.UTC)
    gone.is_active = False
    await db_session.flush()

    await _as(client, admin)
    page = _text(await client.get("/utilisateurs"))

    def status(user: User) -> str:
        row = re.search(
            r'<tr data-user="' + str(user.id) + r'">.*?class="person-status[^"]*">([^<]+)<', page, re.DOTALL
        )
        assert row, user.email
        return row.group(1)

    assert status(admin) == "Actif"
    assert status(invited) == "Invitation envoyée"
    assert status(expired) == "Invitation expirée"
    assert status(revoked) == "Invitation révoquée"
    assert status(gone) == "Désactivé"
    detail = _text(await client.get(f"/utilisateurs/{invited.id}"))
    assert "Renvoyer l'invitation" in detail
    assert "Révoquer l'invitation" in detail
    detail = _text(await client.get(f"/utilisateurs/{revoked.id}"))
    assert "Renvoyer l'invitation" in detail
    assert "Révoquer l'invitation" not in detail


# --- someone who is already there ------------------------------------------------------


async def test_inviting_someone_already_invited_adds_the_role_to_the_same_person(
    client: Client, db_session: AsyncSession
) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    bakery = await make_dossier(db_session, name="Boulangerie Martin")
    garage = await make_dossier(db_session, name="Garage Dupont")
    await _as(client, partner)
    first = await _invite(client, email="claire@exemple.fr", nom="Claire Martin", client=str(bakery.id))
    assert first.status_code == 303
    person = (await db_session.execute(select(User).where(User.email == "claire@exemple.fr"))).scalar_one()
    again = await _invite(client, email="Claire@Exemple.fr", nom="Claire M.", comptable=str(garage.id),
                          collaborateur="on")  # fmt: skip
    assert again.status_code == 303
    assert again.headers["location"] == f"/utilisateurs/{person.id}"
    assert "une nouvelle invitation lui est envoyée" in _text(await client.get(again.headers["location"]))
    assert await db_session.scalar(select(func.count()).select_from(User).where(User.email == "claire@exemple.fr")) == 1
    roles = await db_session.execute(
        select(DossierMembership.dossier_id, DossierMembership.role).where(DossierMembership.user_id == person.id)
    )
    assert {tuple(row) for row in roles} == {(bakery.id, DossierRole.CLIENT_USER), (garage.id, DossierRole.ACCOUNTANT)}
    invitation = (await db_session.execute(select(Invitation).where(Invitation.user_id == person.id))).scalar_one()
    assert invitation.deliveries_requested == 2
    sends = await db_session.execute(
        select(JobRun.actor_name, JobRun.arguments).where(JobRun.created_by_id == partner.id)
    )
    assert [(name, arguments) for name, arguments in sends] == [
        ("firm.send_invitation", {"invitation_id": str(invitation.id)})
    ] * 2
    # The same again: already there, the membership is not doubled.
    same = await _invite(client, email="claire@exemple.fr", nom="", client=str(bakery.id))
    assert same.status_code == 303
    assert await _count(db_session, DossierMembership) == 2


async def test_someone_with_a_password_is_told_not_reinvited(client: Client, db_session: AsyncSession) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    colleague = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), email="jean@cabinet.fr")
    firm_dossier = await make_dossier(db_session, name="Cabinet Lumière", is_firm_dossier=True)
    firm = await make_firm(db_session)
    firm.own_dossier_id = firm_dossier.id
    await db_session.flush()
    await _as(client, partner)
    form = await client.get("/utilisateurs/nouveau")
    assert f'<option value="{firm_dossier.id}" selected>' in form.text  # the firm's own dossier, by default
    answer = await _invite(client, email="jean@cabinet.fr", nom="Jean", dossier_cabinet=str(firm_dossier.id),
                           employe="on", facturation="on")  # fmt: skip
    assert answer.status_code == 303
    assert "qui en est averti par courriel" in _text(await client.get(answer.headers["location"]))
    assert await _count(db_session, Invitation) == 0
    [run] = (await db_session.execute(select(JobRun).where(JobRun.actor_name == "firm.send_access_notice"))).scalars()
    assert run.arguments == {"user_id": str(colleague.id), "roles": ["Employé", "Gestionnaire de facturation"]}
    # Nothing new to give: said plainly, nothing written.
    before = await _state(db_session)
    same = await _invite(
        client, email="jean@cabinet.fr", nom="Jean", dossier_cabinet=str(firm_dossier.id), employe="on"
    )
    assert same.status_code == 422
    assert "jean@cabinet.fr a déjà tous ces rôles." in _text(same)
    assert await _state(db_session) == before


# --- deactivating -----------------------------------------------------------------------


async def test_deactivating_someone_ends_their_sessions_at_once_and_keeps_their_history(
    client: Client, db_session: AsyncSession
) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    colleague = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Jean Dupuis")
    dossier = await make_dossier(db_session, name="Boulangerie Martin")
    await add_role(db_session, colleague, dossier, DossierRole.ACCOUNTANT)
    await _as(client, colleague)
    assert (await client.get("/entreprises")).status_code == 200
    their_session = dict(client.cookies)

    await _as(client, admin)
    answer = await _post(client, f"/utilisateurs/{colleague.id}/desactiver", {}, page=f"/utilisateurs/{colleague.id}")
    assert answer.status_code == 303
    page = _text(await client.get(f"/utilisateurs/{colleague.id}"))
    assert "Jean Dupuis est désactivé : ses sessions sont fermées." in page
    assert "Désactivé" in page
    assert "Boulangerie Martin" in page  # their roles stay

    client.cookies.clear()
    client.cookies.update(their_session)
    refused = await client.get("/entreprises", follow_redirects=False)
    assert refused.status_code in {302, 303}
    assert refused.headers["location"].startswith("/connexion")
    assert (await sign_in(client, colleague.email, PASSWORD)).status_code == 401
    assert await db_session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.deactivate")
    ) == 1  # fmt: skip
    assert await _count(db_session, DossierMembership) == 1

    await _as(client, admin)
    answer = await _post(client, f"/utilisateurs/{colleague.id}/reactiver", {}, page=f"/utilisateurs/{colleague.id}")
    assert answer.status_code == 303
    await _as(client, colleague)
    assert (await client.get("/entreprises")).status_code == 200


async def test_nobody_deactivates_themselves(client: Client, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,))
    await _as(client, admin)
    assert "Désactiver</button>" not in (await client.get(f"/utilisateurs/{admin.id}")).text
    refused = await _post(client, f"/utilisateurs/{admin.id}/desactiver", {}, page=f"/utilisateurs/{admin.id}")
    assert refused.status_code == 422
    assert "Vous ne pouvez pas désactiver votre propre compte." in _text(refused)
    await db_session.refresh(admin)
    assert admin.is_active


async def test_a_partner_cannot_deactivate(client: Client, db_session: AsyncSession) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    colleague = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    await _as(client, partner)
    refused = await _post(client, f"/utilisateurs/{colleague.id}/desactiver", {}, page=f"/utilisateurs/{colleague.id}")
    assert refused.status_code == 403


# --- removing a role --------------------------------------------------------------------


async def test_removing_a_role_on_a_dossier(client: Client, db_session: AsyncSession) -> None:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    other_partner = await make_user(db_session, roles=(FirmRole.PARTNER,))
    colleague = await make_user(db_session, roles=(FirmRole.COLLABORATOR,))
    bakery = await make_dossier(db_session, name="Boulangerie Martin")
    secret = await make_dossier(db_session, name="Holding Secrète", is_confidential=True)
    await add_role(db_session, colleague, bakery, DossierRole.ACCOUNTANT)
    await add_role(db_session, colleague, secret, DossierRole.ACCOUNTANT)
    await add_role(db_session, other_partner, secret, DossierRole.ACCOUNTANT)

    await _as(client, partner)
    path = f"/utilisateurs/{colleague.id}/roles/retirer"
    hidden = await _post(
        client, path, {"dossier": str(secret.id), "role": "accountant"}, page=f"/utilisateurs/{colleague.id}"
    )
    assert hidden.status_code == 404
    assert await _count(db_session, DossierMembership) == 3
    removed = await _post(
        client, path, {"dossier": str(bakery.id), "role": "accountant"}, page=f"/utilisateurs/{colleague.id}"
    )
    assert removed.status_code == 303
    page = _text(await client.get(f"/utilisateurs/{colleague.id}"))
    assert "Rôle « Comptable » retiré sur Boulangerie Martin." in page
    assert "Aucun rôle sur un dossier que vous pouvez voir." in page
    remaining = await db_session.execute(
        select(DossierMembership.dossier_id).where(DossierMembership.user_id == colleague.id)
    )
    assert list(remaining.scalars()) == [secret.id]


# --- the invitation link's page ---------------------------------------------------------


async def test_the_link_page_refuses_bad_passwords_and_unknown_links(client: Client, db_session: AsyncSession) -> None:
    dossier = await make_dossier(db_session, name="Boulangerie Martin")
    person = await _pending(db_session, "claire@exemple.fr", dossier, token="jeton-de-la-page-de-test")
    page = await client.get("/invitation/jeton-de-la-page-de-test")
    assert page.status_code == 200
    assert "Choisissez votre mot de passe" in page.text
    assert "claire@exemple.fr" in page.text
    # The link's token is in the address: never sent on as a referrer, never cached.
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    token = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]

    async def submit(password: str, confirmation: str) -> httpx.Response:
        return await client.post(
            "/invitation/jeton-de-la-page-de-test",
            data={"password": password, "confirmation": confirmation, "_csrf_token": token},
            follow_redirects=False,
        )

    short = await submit("court", "court")
    assert short.status_code == 422
    assert "Le mot de passe doit contenir au moins 12 caractères." in _text(short)
    mismatch = await submit(NEW_PASSWORD, NEW_PASSWORD + "!")
    assert mismatch.status_code == 422
    assert "Les deux mots de passe ne correspondent pas." in _text(mismatch)
    await db_session.refresh(person)
    assert person.password_hash is None

    unknown = await client.get("/invitation/jeton-qui-n-existe-pas")
    assert unknown.status_code == 404
    assert "Lien d'invitation invalide" in _text(unknown)

    accepted = await submit(NEW_PASSWORD, NEW_PASSWORD)
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/"
    home = await client.get("/entreprises")
    assert "Bienvenue, Claire : votre mot de passe est enregistré." in _text(home)
    assert "Boulangerie Martin" in home.text
