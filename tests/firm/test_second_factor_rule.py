"""The firm's rule on second factors (Paramètres), its grace period, and an administrator's reset."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import SecondFactor, User
from portal.accounts.tasks import send_second_factor_reset
from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from portal.firm.models import Firm
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun
from portal.mail.transport import list_messages
from portal.settings import FIRM_TIMEZONE, Settings
from tests.accounts.test_second_factor import code_at, enrol, post, sign_in_with_code
from tests.browsing import sign_in
from tests.factories.firm import PASSWORD, make_firm, make_user

Client = httpx.AsyncClient
BANNER = 'id="rappel-double-authentification"'


async def switch_on(client: Client, *, days: int = 7) -> httpx.Response:
    return await post(client, "/parametres/double-authentification", {"obligatoire": "1", "delai": str(days)},
                      page="/parametres")  # fmt: skip


async def test_an_admin_makes_the_second_factor_mandatory_in_the_settings(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await make_firm(db_session)
    await make_user(db_session, roles=(FirmRole.ADMIN,), email="marc@cabinet-test.fr")
    await sign_in(client, "marc@cabinet-test.fr", PASSWORD)
    page = await client.get("/parametres")
    assert "Rendre la double authentification obligatoire pour les associés et administrateurs" in page.text
    assert "Facultative" in page.text

    refused = await post(client, "/parametres/double-authentification", {"obligatoire": "1", "delai": "deux"},
                         page="/parametres")  # fmt: skip
    assert refused.status_code == 422
    assert "Le délai doit être un nombre de jours entre 0 et 90." in refused.text
    assert 'value="deux"' in refused.text  # what was typed stays
    await db_session.refresh(firm)
    assert firm.second_factor_required_since is None

    response = await switch_on(client, days=10)
    assert response.status_code == 303
    await db_session.refresh(firm)
    assert firm.second_factor_required_since is not None
    assert firm.second_factor_grace_days == 10
    page = await client.get("/parametres")
    assert "Obligatoire pour les associés et administrateurs depuis le" in page.text
    changes = (
        await db_session.execute(select(AuditEvent).where(AuditEvent.action == "firm.update"))
    ).scalars().all()  # fmt: skip
    assert any("second_factor_required_since" in (event.after or {}) for event in changes)

    off = await post(client, "/parametres/double-authentification", {"delai": "10"}, page="/parametres")
    assert off.status_code == 303
    await db_session.refresh(firm)
    assert firm.second_factor_required_since is None


async def test_a_collaborator_cannot_change_the_rule(client: Client, db_session: AsyncSession) -> None:
    await make_firm(db_session)
    await make_user(db_session, email="julie@cabinet-test.fr")
    await sign_in(client, "julie@cabinet-test.fr", PASSWORD)
    response = await post(client, "/parametres/double-authentification", {"obligatoire": "1", "delai": "7"})
    assert response.status_code == 403


async def test_partners_are_reminded_during_the_grace_period_then_sent_to_enrolment(
    client: Client, db_session: AsyncSession
) -> None:
    firm = await make_firm(db_session)
    await make_user(db_session, roles=(FirmRole.ADMIN,), email="marc@cabinet-test.fr")
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), email="claire@cabinet-test.fr")
    await make_user(db_session, email="julie@cabinet-test.fr")
    await sign_in(client, "marc@cabinet-test.fr", PASSWORD)
    await switch_on(client, days=7)
    # The admin who switched it on is reminded from their next sign-in, like everyone.
    assert BANNER not in (await client.get("/entreprises")).text
    await post(client, "/deconnexion", {})

    # A collaborator is not concerned.
    await sign_in(client, "julie@cabinet-test.fr", PASSWORD)
    assert BANNER not in (await client.get("/compte")).text
    await post(client, "/deconnexion", {})

    # A partner, during their grace period: a reminder on every page, with the date.
    response = await sign_in(client, "claire@cabinet-test.fr", PASSWORD)
    assert response.headers["location"] == "/"
    page = await client.get("/entreprises")
    assert page.status_code == 200
    assert BANNER in page.text
    await db_session.refresh(partner)
    assert partner.second_factor_grace_from is not None
    # The page writes the firm's day (Paris), which is already tomorrow after 23:00 UTC in winter.
    due = (partner.second_factor_grace_from + dt.timedelta(days=7)).astimezone(FIRM_TIMEZONE).strftime("%d/%m/%Y")
    assert f"activez-la avant le {due}" in page.text
    await post(client, "/deconnexion", {}, page="/entreprises")

    # Eight days later: enrolment before anything else.
    eight_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    await db_session.execute(update(Firm).where(Firm.id == firm.id).values(second_factor_required_since=eight_days_ago))
    await db_session.execute(update(User).where(User.id == partner.id).values(second_factor_grace_from=eight_days_ago))
    response = await sign_in(client, "claire@cabinet-test.fr", PASSWORD)
    assert response.headers["location"] == "/compte/double-authentification"
    for path in ("/entreprises", "/compte", "/utilisateurs", "/parametres"):
        blocked = await client.get(path, follow_redirects=False)
        assert blocked.status_code == 303, path
        assert blocked.headers["location"] == "/compte/double-authentification"
    fragment = await client.get("/entreprises", headers={"HX-Request": "true"}, follow_redirects=False)
    assert fragment.headers["HX-Redirect"] == "/compte/double-authentification"
    page = await client.get("/compte/double-authentification")
    assert page.status_code == 200
    assert "le délai est écoulé" in page.text
    assert (await client.get("/static/css/portal.css")).status_code == 200
    secret, _codes = await enrol(client)
    # Enrolled: everything is open again, without a reminder, and the second factor cannot be switched off.
    page = await client.get("/entreprises")
    assert page.status_code == 200
    assert BANNER not in page.text
    profile = await client.get("/compte")
    assert (
        "Le cabinet l&#39;exige pour votre rôle" in profile.text or "Le cabinet l'exige pour votre rôle" in profile.text
    )
    refused = await post(client, "/compte/double-authentification/desactiver", {"code": PASSWORD})
    assert refused.status_code == 422
    # Signing out is always open: the next sign-in asks for the code.
    await post(client, "/deconnexion", {})
    assert (
        await sign_in_with_code(client, "claire@cabinet-test.fr", code_at(secret, steps_ahead=1))
    ).status_code == 303


async def test_someone_who_must_enrol_can_still_sign_out(client: Client, db_session: AsyncSession) -> None:
    await make_firm(db_session)
    await make_user(db_session, roles=(FirmRole.ADMIN,), email="marc@cabinet-test.fr")
    await sign_in(client, "marc@cabinet-test.fr", PASSWORD)
    await switch_on(client, days=0)
    await post(client, "/deconnexion", {})
    response = await sign_in(client, "marc@cabinet-test.fr", PASSWORD)
    assert response.headers["location"] == "/compte/double-authentification"
    out = await post(client, "/deconnexion", {}, page="/compte/double-authentification")
    assert out.status_code == 303
    assert out.headers["location"] == "/connexion?deconnecte=1"


async def test_an_admin_resets_a_persons_second_factor(
    client: Client, db_session: AsyncSession, settings: Settings
) -> None:
    await make_firm(db_session)
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,), email="marc@cabinet-test.fr", name="Marc Lefèvre")
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), email="claire@cabinet-test.fr", name="Claire")
    await sign_in(client, "claire@cabinet-test.fr", PASSWORD)
    await enrol(client)
    # A partner may not reset (no permission to manage people), nor anyone their own.
    assert (await post(client, f"/utilisateurs/{admin.id}/double-authentification/reinitialiser",
                       {"confirmer": "1"})).status_code == 403  # fmt: skip
    await post(client, "/deconnexion", {})

    await sign_in(client, "marc@cabinet-test.fr", PASSWORD)
    page = await client.get(f"/utilisateurs/{partner.id}")
    assert "Réinitialiser la double authentification" in page.text
    path = f"/utilisateurs/{partner.id}/double-authentification/reinitialiser"
    unconfirmed = await post(client, path, {}, page=f"/utilisateurs/{partner.id}")
    assert unconfirmed.status_code == 422
    assert "Cochez la case pour confirmer" in unconfirmed.text
    assert (await db_session.execute(select(SecondFactor).where(SecondFactor.user_id == partner.id))).first()

    done = await post(client, path, {"confirmer": "1"}, page=f"/utilisateurs/{partner.id}")
    assert done.status_code == 303
    assert "réinitialisée" in (await client.get(done.headers["location"])).text
    assert (await db_session.execute(select(SecondFactor).where(SecondFactor.user_id == partner.id))).first() is None
    again = await post(client, path, {"confirmer": "1"}, page=f"/utilisateurs/{partner.id}")
    assert again.status_code == 422
    assert "n&#39;a pas de double authentification active" in again.text or "n'a pas de double" in again.text
    reset = (
        await db_session.execute(select(AuditEvent).where(AuditEvent.action == "second_factor.reset"))
    ).scalar_one()
    assert reset.object_id == str(partner.id)
    assert reset.actor_id == admin.id
    run = (
        await db_session.execute(select(JobRun).where(JobRun.actor_name == "accounts.send_second_factor_reset"))
    ).scalar_one()
    assert run.arguments == {"user_id": str(partner.id)} or json.dumps(run.arguments).count(str(partner.id)) == 1
    assert run.created_by_id == admin.id
    # Their own: no button, and refused.
    own = await post(client, f"/utilisateurs/{admin.id}/double-authentification/reinitialiser", {"confirmer": "1"},
                     page=f"/utilisateurs/{admin.id}")  # fmt: skip
    assert own.status_code == 422
    await post(client, "/deconnexion", {})
    # The partner signs in with their password alone.
    assert (await sign_in(client, "claire@cabinet-test.fr", PASSWORD)).headers["location"] == "/"


async def test_the_reset_email_says_who_did_it_and_what_to_do(
    db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    admin = await make_user(db_session, roles=(FirmRole.ADMIN,), name="Marc Lefèvre")
    person = await make_user(db_session, email="claire@cabinet-test.fr", name="Claire")
    outbox = settings.with_overrides(smtp_url=f"file://{tmp_path}")

    def sessions(*, read_only: bool = False) -> AsyncSession:
        return session_maker()

    context = JobContext(run_id=uuid.uuid4(), sessions=sessions, created_by_id=admin.id, settings=outbox)  # type: ignore[arg-type]
    summary = await send_second_factor_reset(context, user_id=str(person.id))
    assert summary == {"Résultat": "Envoyé"}  # the runs list names no one
    [sent] = list_messages(tmp_path)
    assert sent.subject == "Votre double authentification a été réinitialisée"
    assert "claire@cabinet-test.fr" in sent.recipients
    body = sent.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Marc Lefèvre a réinitialisé la double authentification" in body
    assert "prévenez immédiatement le cabinet" in body
    gone = await send_second_factor_reset(context, user_id=str(uuid.uuid4()))
    assert gone == {"Résultat": "La personne n'existe plus : rien à envoyer."}
