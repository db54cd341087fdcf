"""Mot de passe oublié ?: a single-use, short-lived link by email, the same answer for every address.

A real SMTP server (aiosmtpd) receives what the portal's real workers send; people act through
the pages, as they would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts import recovery
from portal.accounts.models import PasswordReset, User, UserSession
from portal.accounts.passwords import verify_password
from portal.accounts.tokens import token_digest
from portal.app import create_app
from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from portal.db.base import metadata
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.runtime import Runtime
from portal.settings import Settings
from tests.browsing import csrf_token, running, sign_in
from tests.factories.firm import PASSWORD, make_user
from tests.smtp import Inbox, html_of, reset_token, smtp_server, text_of
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
BASE = "http://127.0.0.1:8000"
NEW_PASSWORD = "la-mer-monte-a-maree-basse"
SAME_ANSWER = "Si un compte existe pour cette adresse, un e-mail vient d'être envoyé."


@pytest.fixture
def inbox(jobs: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server() as (url, received):
        monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(smtp_url=url, dev_mail_page=False))
        yield received


@pytest.fixture
def app(settings: Settings, committed: Maker) -> Litestar:
    """The portal on the committed database, relaying its outbox to the test workers."""
    return create_app(settings, background=True, embedded_worker=False, migrate_on_start=False)


@asynccontextmanager
async def browser(app: Litestar, address: str = "192.0.2.30") -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the running portal (its lifespan runs once, around the first one)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50004))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    token = await csrf_token(client, "/mot-de-passe-oublie")
    return await client.post("/mot-de-passe-oublie", data={"email": email, "_csrf_token": token})


async def choose(
    client: httpx.AsyncClient, token: str, password: str, confirmation: str | None = None
) -> httpx.Response:
    csrf = await csrf_token(client, f"/mot-de-passe/{token}")
    data = {"password": password, "confirmation": password if confirmation is None else confirmation}
    return await client.post(f"/mot-de-passe/{token}", data={**data, "_csrf_token": csrf}, follow_redirects=False)


async def runs(maker: Maker) -> list[JobRun]:
    async with maker() as session:
        statement = select(JobRun).where(JobRun.actor_name == "accounts.send_password_reset")
        return list((await session.execute(statement)).scalars())


async def everything_stored(maker: Maker) -> str:
    async with maker() as session:
        rows = [repr(tuple(row)) for table in metadata.sorted_tables for row in (await session.execute(select(table)))]
    return "\n".join(rows)


async def person(maker: Maker, email: str) -> User:
    async with maker() as session:
        return (await session.execute(select(User).where(User.email == email))).scalar_one()


async def check_the_email(message: EmailMessage, committed: Maker, caplog: pytest.LogCaptureFixture) -> str:
    """Julie's email, as she reads it, and what is kept of its link (its digest, for an hour); its token."""
    assert message["To"].addresses[0].addr_spec == "julie@cabinet-test.fr"
    assert message["Subject"] == "Réinitialisation de votre mot de passe du Portail Cabinet"
    assert "expire dans 60 minutes" in text_of(message)
    assert "Choisir un nouveau mot de passe" in html_of(message)
    token = reset_token(message)
    assert f"{BASE}/mot-de-passe/{token}" in text_of(message)
    [run] = [await wait_for_run(committed, run.id) for run in await runs(committed)]
    assert run.status == JobStatus.SUCCEEDED
    assert "julie" not in repr((run.title, run.counts, run.arguments))  # the runs list names no one

    # Only the digest is kept, for an hour.
    async with committed() as session:
        [reset] = (await session.execute(select(PasswordReset))).scalars()
    assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert reset.expires_at is not None
    assert dt.timedelta(minutes=59) < reset.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    assert token not in await everything_stored(committed)
    assert token not in caplog.text
    return token


async def test_a_forgotten_password_is_replaced_through_the_emailed_link_once(
    app: Litestar, committed: Maker, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    async with committed() as session, session.begin():
        user = await make_user(session, email="julie@cabinet-test.fr", name="Julie Bernard")
    async with running(app), browser(app, "192.0.2.31") as elsewhere, browser(app) as visitor:
        assert (await sign_in(elsewhere, user.email, PASSWORD)).status_code == 303  # a session left open

        sign_in_page = await visitor.get("/connexion")
        assert 'href="/mot-de-passe-oublie"' in sign_in_page.text
        assert "Mot de passe oublié ?" in sign_in_page.text
        answer = await ask(visitor, "  Julie@Cabinet-Test.fr ")
        assert answer.status_code == 200
        assert SAME_ANSWER in answer.text

        [message] = await inbox.wait_for(1)
        token = await check_the_email(message, committed, caplog)

        page = await visitor.get(f"/mot-de-passe/{token}")
        assert page.status_code == 200
        assert "Choisissez un nouveau mot de passe" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "no-store" in page.headers["cache-control"]
        weak = await choose(visitor, token, "aaaaaaaaaaaa")
        assert weak.status_code == 422
        assert "trop facile à deviner" in weak.text

        done = await choose(visitor, token, NEW_PASSWORD)
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        home = await visitor.get("/entreprises")
        assert home.status_code == 200
        assert "Julie Bernard" in home.text  # signed in

        # Every other session ended; the link served once; the old password is gone.
        ended = await elsewhere.get("/entreprises", follow_redirects=False)
        assert ended.headers["location"].startswith("/connexion")
        again = await visitor.get(f"/mot-de-passe/{token}")
        assert again.status_code == 410
        assert "Lien de réinitialisation déjà utilisé" in html.unescape(again.text)
        assert (await choose(elsewhere, token, "encore-un-autre-essai-2026")).status_code == 410
        assert (await sign_in(elsewhere, user.email, PASSWORD)).status_code == 401
        assert (await sign_in(elsewhere, user.email, NEW_PASSWORD)).status_code == 303

        notices = await inbox.wait_for(2)
        assert notices[1]["Subject"] == "Votre mot de passe du Portail Cabinet a été modifié"

    stored = await person(committed, user.email)
    assert verify_password(stored.password_hash, NEW_PASSWORD)
    async with committed() as session:
        actions = {
            action
            for (action,) in await session.execute(
                select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))
            )
        }
    assert {"auth.password_reset_request", "auth.password_reset", "auth.sign_in"} <= actions


async def test_the_answer_is_the_same_whether_or_not_a_link_is_sent(
    app: Litestar, committed: Maker, inbox: Inbox
) -> None:
    async with committed() as session, session.begin():
        await make_user(session, email="active@cabinet-test.fr")
        inactive = await make_user(session, email="partie@cabinet-test.fr")
        inactive.is_active = False
        session.add(User(email="invitee@client.fr", name="Invitée Sans Mot De Passe", roles=[]))  # no password yet
    async with running(app), browser(app) as visitor:
        answers = {}
        for email in ("inconnu@nulle-part.fr", "partie@cabinet-test.fr", "invitee@client.fr", "active@cabinet-test.fr"):
            response = await ask(visitor, email)
            answers[email] = (response.status_code, response.text.replace(email, "ADRESSE"))
        assert len(set(answers.values())) == 1
        assert SAME_ANSWER in answers["active@cabinet-test.fr"][1]
        [message] = await inbox.wait_for(1)
        assert message["To"].addresses[0].addr_spec == "active@cabinet-test.fr"
        await asyncio.sleep(0.5)
        assert len(inbox.messages) == 1  # none for the others
    assert len(await runs(committed)) == 1
    async with committed() as session:
        events = list(
            (
                await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.password_reset_request"))
            ).scalars()
        )
    assert len(events) == 4  # every request is in the log…
    assert all(event.after is None for event in events)  # …without what was typed
    assert sum(event.object_id is not None for event in events) == 1  # about an account only when a link went


async def test_requests_are_throttled_per_address_alike(app: Litestar, committed: Maker, inbox: Inbox) -> None:
    async with committed() as session, session.begin():
        await make_user(session, email="active@cabinet-test.fr")
    async with running(app), browser(app) as visitor:
        for email in ("active@cabinet-test.fr", "inconnu@nulle-part.fr"):
            for _ in range(recovery.PER_EMAIL):
                assert (await ask(visitor, email)).status_code == 200
            refused = await ask(visitor, email)
            assert refused.status_code == 429
            assert "Trop de demandes de réinitialisation" in refused.text
        # Each request asked for a link (a newer one replaces the older: the last is always sent).
        assert len(await runs(committed)) == recovery.PER_EMAIL
        finished = [await wait_for_run(committed, run.id) for run in await runs(committed)]
        assert all(run.status == JobStatus.SUCCEEDED for run in finished)
        assert 1 <= len(inbox.messages) <= recovery.PER_EMAIL


async def test_a_newer_link_replaces_the_older_and_an_expired_one_is_refused(
    app: Litestar, committed: Maker, inbox: Inbox
) -> None:
    async with committed() as session, session.begin():
        await make_user(session, email="active@cabinet-test.fr", roles=(FirmRole.ADMIN,))
    async with running(app), browser(app) as visitor:
        await ask(visitor, "active@cabinet-test.fr")
        first = reset_token((await inbox.wait_for(1))[0])
        await ask(visitor, "active@cabinet-test.fr")
        second = reset_token((await inbox.wait_for(2))[1])
        assert (await visitor.get(f"/mot-de-passe/{first}")).status_code == 410
        assert (await visitor.get(f"/mot-de-passe/{second}")).status_code == 200
        async with committed() as session, session.begin():
            await session.execute(
                update(PasswordReset)
                .where(PasswordReset.token_hash == token_digest(second))
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        expired = await visitor.get(f"/mot-de-passe/{second}")
        assert expired.status_code == 410
        assert "Lien de réinitialisation expiré" in html.unescape(expired.text)
        assert (await choose(visitor, second, NEW_PASSWORD)).status_code == 410
        unknown = await visitor.get("/mot-de-passe/pas-un-vrai-jeton")
        assert unknown.status_code == 404


async def test_a_link_is_spent_once_even_when_used_at_the_same_moment(committed: Maker) -> None:
    token = "jeton-de-test-pour-la-concurrence"
    async with committed() as session, session.begin():
        user = await make_user(session, email="double@cabinet-test.fr", name="Double Clic")
        session.add(
            PasswordReset(email=user.email, ip_address="192.0.2.1", user_id=user.id, token_hash=token_digest(token),
                          expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        )  # fmt: skip

    async def attempt(password: str) -> str | int:
        try:
            async with committed() as session:
                await recovery.reset_password(session, token, password=password, confirmation=password)
                await session.commit()
        except recovery.ResetLinkError as refused:
            return refused.status
        return password

    outcomes = await asyncio.gather(*(attempt(f"nouveau-secret-numero-{number}") for number in range(4)))
    winners = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert len(winners) == 1
    assert sorted(outcome for outcome in outcomes if isinstance(outcome, int)) == [410, 410, 410]
    stored = await person(committed, "double@cabinet-test.fr")
    assert verify_password(stored.password_hash, winners[0])
    async with committed() as session:
        rows = (await session.execute(select(UserSession).where(UserSession.user_id == stored.id))).scalars()
        assert list(rows) == []  # no browser was signed in by the service alone
