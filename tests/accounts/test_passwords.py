"""The password policy (NIST SP 800-63B) wherever a password is set, and Changer mon mot de passe."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.accounts.passwords import password_problem, verify_password
from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from portal.firm.invitations import InvitationService, InviteError
from portal.firm.links import token_digest
from portal.firm.models import Invitation
from portal.firm.services import UserError, UserService
from portal.jobs.models import JobRun
from tests.browsing import csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
NEW_PASSWORD = "trois-chevaux-dans-la-brume"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


# --- the policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        ("aaaaaaaaaaaa", "trop facile à deviner"),
        ("court-1", "au moins 12 caractères"),
        ("password1234", "les plus courants ou déjà divulgués"),
        ("1q2w3e4r5t6y", "les plus courants ou déjà divulgués"),
        ("azertyuiop12", "trop facile à deviner"),
        ("abcdefghijklmnop", "trop facile à deviner"),
        ("Motdepasse123", "trop facile à deviner"),
        ("JulieBernard-2026!", "ni votre nom ni votre adresse e-mail"),
        ("mon-lefevre-prefere", "ni votre nom ni votre adresse e-mail"),  # the name, without its accent
        ("jbernard.compta.99", "ni votre nom ni votre adresse e-mail"),  # the address's local part
        (" espace-au-debut-du-mot", "commencer ni finir par une espace"),
        ("x" * 1025, "dépasser 1024 caractères"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_message(password: str, refusal: str) -> None:
    problem = password_problem(password, email="jbernard.compta@cabinet-test.fr", name="Julie Bernard-Lefèvre")
    assert problem is not None
    assert refusal in problem


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # no composition rule: lower-case words will do
        "trois-chevaux-dans-la-brume",
        "Ma tante a 3 chats roux !",
        "x9$Lq!2vRt#8",  # twelve characters suffice when they are not guessable
        "é" * 3 + "ça-ne-se-devine-pas-vraiment",
    ],
)
def test_long_unguessable_passwords_are_accepted_without_composition_rules(password: str) -> None:
    assert password_problem(password, email="jbernard.compta@cabinet-test.fr", name="Julie Bernard") is None


def test_short_names_are_not_forbidden_words() -> None:
    """A name part of fewer than 3 letters is not looked for (an "Al" would refuse every "alpha")."""
    assert password_problem("alpha-bravo-charlie-delta", email="al@x.fr", name="Al Li") is None


async def test_an_invitation_refuses_a_weak_password(db_session: AsyncSession) -> None:
    token = "jeton-de-test-pour-la-politique"
    person = User(email="nouvelle@client.fr", name="Nina Nouvelle", roles=[])
    db_session.add(person)
    await db_session.flush()
    db_session.add(
        Invitation(user_id=person.id, token_hash=token_digest(token),
                   expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1), deliveries_sent=1)
    )  # fmt: skip
    await db_session.flush()
    invitations = InvitationService(session=db_session)
    for weak in ("aaaaaaaaaaaa", "nina-nouvelle-2026"):
        with pytest.raises(InviteError) as refused:
            await invitations.accept(token, password=weak, confirmation=weak)
        assert refused.value.field == "password"
    assert person.password_hash is None
    user = await invitations.accept(token, password=NEW_PASSWORD, confirmation=NEW_PASSWORD)
    assert verify_password(user.password_hash, NEW_PASSWORD)


async def test_creating_a_person_from_the_command_line_applies_the_policy(db_session: AsyncSession) -> None:
    with pytest.raises(UserError, match="trop facile à deviner"):
        await UserService(session=db_session).create_user(
            email="x@cabinet-test.fr", name="X", roles=[FirmRole.ADMIN], password="aaaaaaaaaaaa"
        )


async def test_every_password_form_has_the_strength_meter(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    page = await client.get("/compte")
    assert 'data-password-meter="force-mot-de-passe"' in page.text
    assert '<script src="/static/js/password-meter.js" defer></script>' in page.text
    script = await client.get("/static/js/password-meter.js")
    assert script.status_code == 200
    assert "Faible" in page.text  # the meter's words come from the page, in the person's language
    assert "script-src 'self'" in page.headers["content-security-policy"]


# --- Changer mon mot de passe -------------------------------------------------------------


@asynccontextmanager
async def other_browser(app: Litestar) -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 50003))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8000", headers={"User-Agent": FIREFOX}
    ) as other:
        yield other


async def change(client: Client, current: str, new: str, confirmation: str | None = None) -> httpx.Response:
    token = await csrf_token(client, "/compte")
    data = {"actuel": current, "password": new, "confirmation": new if confirmation is None else confirmation}
    return await client.post("/compte/mot-de-passe", data={**data, "_csrf_token": token}, follow_redirects=False)


async def stored(db_session: AsyncSession, user: User) -> User:
    statement = select(User).where(User.id == user.id).execution_options(populate_existing=True)
    return (await db_session.execute(statement)).scalar_one()


async def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(
    app: Litestar, client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="marc@cabinet-test.fr", name="Marc Lefèvre")
    async with other_browser(app) as other:
        assert (await sign_in(other, user.email, PASSWORD)).status_code == 303
        assert (await sign_in(client, user.email, PASSWORD)).status_code == 303
        page = await client.get("/compte")
        assert "Changer mon mot de passe" in page.text

        changed = await change(client, PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 303
        assert changed.headers["location"] == "/compte"
        page = await client.get("/compte")
        assert page.status_code == 200  # still signed in here
        assert "Votre mot de passe est modifié ; vos autres sessions sont fermées." in page.text
        assert page.text.count("cette session") == 1
        assert "Firefox sur Windows" not in page.text

        gone = await other.get("/entreprises", follow_redirects=False)
        assert gone.status_code in {302, 303}
        assert gone.headers["location"].startswith("/connexion")
        assert (await sign_in(other, user.email, PASSWORD)).status_code == 401
        assert (await sign_in(other, user.email, NEW_PASSWORD)).status_code == 303

    assert verify_password((await stored(db_session, user)).password_hash, NEW_PASSWORD)
    actions = (await db_session.execute(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id)))).all()
    assert ("auth.password_change",) in actions
    notices = await db_session.execute(select(JobRun).where(JobRun.actor_name == "accounts.send_password_changed"))
    assert [run.arguments for run in notices.scalars()] == [{"user_id": str(user.id)}]


@pytest.mark.parametrize(
    "case",
    [
        ("pas-le-bon-mot-de-passe", NEW_PASSWORD, NEW_PASSWORD, "Le mot de passe actuel est incorrect."),
        (PASSWORD, "aaaaaaaaaaaa", "aaaaaaaaaaaa", "trop facile à deviner"),
        (PASSWORD, "marc-lefevre-compta", "marc-lefevre-compta", "ni votre nom ni votre adresse e-mail"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "Les deux mots de passe ne correspondent pas."),
    ],
)
async def test_a_refused_change_says_why_and_changes_nothing(
    client: Client, db_session: AsyncSession, case: tuple[str, str, str, str]
) -> None:
    current, new, confirmation, message = case
    user = await make_user(db_session, email="marc@cabinet-test.fr", name="Marc Lefèvre")
    await sign_in(client, user.email, PASSWORD)
    refused = await change(client, current, new, confirmation)
    assert refused.status_code == 422
    assert message in refused.text.replace("&#39;", "'")
    assert 'aria-invalid="true"' in refused.text
    assert new not in refused.text  # passwords are never echoed
    assert (await client.get("/entreprises")).status_code == 200  # still signed in
    assert verify_password((await stored(db_session, user)).password_hash, PASSWORD)


async def test_guessing_the_current_password_is_throttled_like_signing_in(
    client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    for _ in range(5):  # PORTAL_LOGIN_MAX_FAILURES in the tests
        assert (await change(client, "une-supposition-fausse", NEW_PASSWORD)).status_code == 422
    throttled = await change(client, PASSWORD, NEW_PASSWORD)
    assert throttled.status_code == 422
    assert "Trop de tentatives de connexion" in throttled.text
    assert verify_password((await stored(db_session, user)).password_hash, PASSWORD)
