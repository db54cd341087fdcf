"""Invitations over real SMTP: the email arrives, its link lets the person in once, and only the hash is kept.

A real SMTP server (aiosmtpd) listens on a free local port; the portal's real workers send
to it through ``PORTAL_SMTP_URL``. People act through the pages, as they would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import re
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import DossierMembership, User
from portal.accounts.passwords import verify_password
from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.db.base import metadata
from portal.firm import tasks
from portal.firm.invitations import InvitationService, LinkError, token_digest
from portal.firm.models import Firm, Invitation
from portal.jobs.context import JobContext
from portal.jobs.models import JobRun, JobStatus
from portal.jobs.runtime import Runtime
from portal.mail.controllers import PREVIEW_POLICY
from portal.mail.transport import list_messages
from portal.settings import Settings
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, make_user
from tests.smtp import Inbox, html_of, link_token, smtp_server, text_of
from tests.waiting import wait_for_run

Maker = async_sessionmaker[AsyncSession]
NEW_PASSWORD = "un-mot-de-passe-bien-long"
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def inbox(jobs: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """The workers send to a real SMTP server for this test."""
    with smtp_server() as (url, received):
        monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(smtp_url=url, dev_mail_page=False))
        yield received


@pytest.fixture
def app(settings: Settings, committed: Maker) -> Litestar:
    """The portal on the committed database, relaying its outbox to the test workers."""
    return create_app(settings, background=True, embedded_worker=False, migrate_on_start=False)


@asynccontextmanager
async def visitor(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the running portal (no cookies of the first one)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def seed(maker: Maker) -> tuple[User, Dossier, Dossier]:
    async with maker() as session, session.begin():
        partner = await make_user(session, roles=(FirmRole.PARTNER,), name="Hélène Associée")
        bakery = await make_dossier(session, name="Boulangerie Martin")
        garage = await make_dossier(session, name="Garage Dupont")
        session.add(Firm(name="Cabinet Lumière"))
    return partner, bakery, garage


async def post_form(client: httpx.AsyncClient, path: str, data: dict[str, str], *, page: str) -> httpx.Response:
    token = await csrf_token(client, page)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def invite(browser: httpx.AsyncClient, **data: str) -> httpx.Response:
    return await post_form(browser, "/utilisateurs/", data, page="/utilisateurs/nouveau")


async def user_by_email(maker: Maker, email: str) -> User:
    async with maker() as session:
        return (await session.execute(select(User).where(User.email == email))).scalar_one()


async def invitation_of(maker: Maker, user_id: uuid.UUID) -> Invitation:
    async with maker() as session:
        return (await session.execute(select(Invitation).where(Invitation.user_id == user_id))).scalar_one()


async def runs_of(maker: Maker, actor_name: str) -> list[JobRun]:
    async with maker() as session:
        statement = select(JobRun).where(JobRun.actor_name == actor_name).order_by(JobRun.created_at)
        return list((await session.execute(statement)).scalars())


async def all_sent(maker: Maker, actor_name: str) -> list[JobRun]:
    """Wait until every run of ``actor_name`` succeeded."""
    finished = [await wait_for_run(maker, run.id) for run in await runs_of(maker, actor_name)]
    assert all(run.status == JobStatus.SUCCEEDED for run in finished), [run.error for run in finished]
    return finished


async def everything_stored(maker: Maker) -> str:
    """Every row of every table, as text."""
    async with maker() as session:
        rows = [repr(tuple(row)) for table in metadata.sorted_tables for row in (await session.execute(select(table)))]
    return "\n".join(rows)


async def accept(app: Litestar, token: str, password: str = NEW_PASSWORD) -> tuple[httpx.Response, httpx.AsyncClient]:
    async with visitor(app) as client:
        page = await client.get(f"/invitation/{token}")
        assert page.status_code == 200, page.text
        assert "Choisissez votre mot de passe" in page.text
        answer = await post_form(
            client, f"/invitation/{token}", {"password": password, "confirmation": password},
            page=f"/invitation/{token}",
        )  # fmt: skip
        return answer, client


async def link_page(app: Litestar, token: str) -> tuple[int, str]:
    """The invitation link's page: its status, and its text as the person reads it."""
    async with visitor(app) as client:
        response = await client.get(f"/invitation/{token}")
        return response.status_code, html.unescape(response.text)


def _lines(text: str) -> str:
    """A body as it reads, whatever line endings the mail server gave it."""
    return text.replace("\r\n", "\n")


def check_invitation_email(message: EmailMessage, run: JobRun) -> str:
    """Claire's invitation, as she reads it; returns its link's token."""
    assert message["To"].addresses[0].addr_spec == "claire.martin@boulangerie-martin.fr"
    assert message["Subject"] == "Cabinet Lumière vous invite sur son portail"
    assert "Bonjour Claire Martin," in text_of(message)
    assert "Hélène Associée vous invite sur le Portail Cabinet." in text_of(message)
    assert "expire dans 7 jours" in text_of(message)
    assert "Choisir mon mot de passe" in html_of(message)
    token = link_token(message)
    assert f"{BASE}/invitation/{token}" in text_of(message)
    # The email lists the roles given and the dossier of each (she will see it); the run that sent it names none.
    assert "Vos accès sur le portail :\n- Utilisateur client : Boulangerie Martin\n" in _lines(text_of(message))
    assert "<strong>Utilisateur client</strong> : Boulangerie Martin" in html_of(message)
    assert "Garage" not in message.as_string()
    assert "Boulangerie" not in repr((run.title, run.counts, run.arguments))
    assert run.counts["Destinataire"] == "claire.martin@boulangerie-martin.fr"
    return token


async def check_only_the_digest_is_kept(
    maker: Maker, person: User, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The token is in no row of any table (audit log, job runs, outbox included), nor in the logs."""
    invitation = await invitation_of(maker, person.id)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert invitation.deliveries_sent == invitation.deliveries_requested == 1
    assert invitation.expires_at is not None
    assert dt.timedelta(days=6, hours=23) < invitation.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    assert token not in await everything_stored(maker)
    assert token not in caplog.text


# --- the tests ----------------------------------------------------------------------------


async def test_the_invitation_arrives_by_smtp_and_its_link_lets_the_person_in_once(
    app: Litestar, committed: Maker, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    partner, bakery, _garage = await seed(committed)
    async with serve_in_process(app) as client:
        await sign_in(client, partner.email, PASSWORD)
        sent = await invite(client, email="  Claire.Martin@Boulangerie-Martin.fr ", nom="Claire Martin",
                            client=str(bakery.id))  # fmt: skip
        assert sent.status_code == 303, sent.text
        assert (
            "Invitation envoyée à claire.martin@boulangerie-martin.fr"
            in (await client.get(sent.headers["location"])).text
        )

        [message] = await inbox.wait_for(1)
        [run] = await all_sent(committed, "firm.send_invitation")
        token = check_invitation_email(message, run)
        person = await user_by_email(committed, "claire.martin@boulangerie-martin.fr")
        assert person.password_hash is None
        await check_only_the_digest_is_kept(committed, person, token, caplog)

        users_page = await client.get("/utilisateurs")
        assert "Invitation envoyée" in users_page.text
        assert "Utilisateur client : Boulangerie Martin" in users_page.text

    answer, _browser = await accept(app, token)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    async with visitor(app) as signed:
        signed.cookies = answer.cookies
        home = await signed.get("/entreprises")
        assert home.status_code == 200
        assert "Claire Martin" in home.text  # signed in as her
        assert "Boulangerie Martin" in home.text  # her dossier
        assert "Garage Dupont" not in home.text

    # Used once: the same link is refused, with its own message.
    status, text = await link_page(app, token)
    assert status == 410
    assert "Invitation déjà utilisée" in text
    async with visitor(app) as client:
        other = "un-autre-mot-de-passe"
        replay = await post_form(
            client, f"/invitation/{token}", {"password": other, "confirmation": other}, page="/connexion"
        )
        assert replay.status_code == 410
        # The password chosen is the one that signs her in.
        assert (await sign_in(client, "claire.martin@boulangerie-martin.fr", NEW_PASSWORD)).status_code == 303
    person = await user_by_email(committed, "claire.martin@boulangerie-martin.fr")
    assert (await invitation_of(committed, person.id)).accepted_at is not None
    assert token not in await everything_stored(committed)


async def test_a_resent_link_works_and_the_previous_one_does_not(app: Litestar, committed: Maker, inbox: Inbox) -> None:
    partner, bakery, _garage = await seed(committed)
    async with serve_in_process(app) as client:
        await sign_in(client, partner.email, PASSWORD)
        assert (
            await invite(client, email="paul@garage.fr", nom="Paul Garage", client=str(bakery.id))
        ).status_code == 303
        [first] = await inbox.wait_for(1)
        await all_sent(committed, "firm.send_invitation")
        person = await user_by_email(committed, "paul@garage.fr")
        old = link_token(first)

        resent = await post_form(client, f"/utilisateurs/{person.id}/invitation/renvoyer", {},
                                 page=f"/utilisateurs/{person.id}")  # fmt: skip
        assert resent.status_code == 303
        # The previous link dies at once, before the new email is even sent.
        status, text = await link_page(app, old)
        assert status == 404
        assert "Lien d'invitation invalide" in text
        messages = await inbox.wait_for(2)
        await all_sent(committed, "firm.send_invitation")
        new = link_token(messages[1])
        assert new != old
        assert (await invitation_of(committed, person.id)).deliveries_sent == 2

    answer, _browser = await accept(app, new)
    assert answer.status_code == 303
    assert (await link_page(app, old))[0] == 404
    assert len(inbox.messages) == 2  # one email per delivery asked for, no more


async def test_revoked_and_expired_links_are_refused(app: Litestar, committed: Maker, inbox: Inbox) -> None:
    partner, bakery, garage = await seed(committed)
    async with serve_in_process(app) as client:
        await sign_in(client, partner.email, PASSWORD)
        await invite(client, email="revoquee@client.fr", nom="Rose Révoquée", client=str(bakery.id))
        await invite(client, email="expiree@client.fr", nom="Ernest Expiré", client=str(garage.id))
        await inbox.wait_for(2)
        await all_sent(committed, "firm.send_invitation")
        tokens = {str(message["To"].addresses[0].addr_spec): link_token(message) for message in inbox.messages}
        revoked = await user_by_email(committed, "revoquee@client.fr")

        answer = await post_form(client, f"/utilisateurs/{revoked.id}/invitation/revoquer", {},
                                 page=f"/utilisateurs/{revoked.id}")  # fmt: skip
        assert answer.status_code == 303
        status, text = await link_page(app, tokens["revoquee@client.fr"])
        assert status == 410
        assert "Invitation révoquée" in text
        assert "Invitation révoquée" in (await client.get("/utilisateurs")).text

        expired = await user_by_email(committed, "expiree@client.fr")
        async with committed() as session, session.begin():
            await session.execute(
                update(Invitation)
                .where(Invitation.user_id == expired.id)
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
            )
        status, text = await link_page(app, tokens["expiree@client.fr"])
        assert status == 410
        assert "Invitation expirée" in text
        assert "a expiré" in text
        async with visitor(app) as browser:
            posted = await post_form(
                browser, f"/invitation/{tokens['expiree@client.fr']}",
                {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}, page="/connexion",
            )  # fmt: skip
            assert posted.status_code == 410
        assert (await user_by_email(committed, "expiree@client.fr")).password_hash is None
        assert "Invitation expirée" in (await client.get("/utilisateurs")).text

        # Resending a revoked invitation makes a new link that works.
        await post_form(
            client, f"/utilisateurs/{revoked.id}/invitation/renvoyer", {}, page=f"/utilisateurs/{revoked.id}"
        )
        messages = await inbox.wait_for(3)
        await all_sent(committed, "firm.send_invitation")
    answer, _browser = await accept(app, link_token(messages[2]))
    assert answer.status_code == 303


async def test_someone_with_an_account_gets_the_role_and_a_notice_not_a_second_account(
    app: Litestar, committed: Maker, inbox: Inbox
) -> None:
    partner, bakery, garage = await seed(committed)
    async with committed() as session, session.begin():
        colleague = await make_user(
            session, roles=(FirmRole.COLLABORATOR,), email="jean@cabinet.fr", name="Jean Dupuis"
        )
    async with serve_in_process(app) as client:
        await sign_in(client, partner.email, PASSWORD)
        answer = await invite(client, email="JEAN@cabinet.fr", nom="Un autre nom", collaborateur="on",
                              comptable=str(bakery.id))  # fmt: skip
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/utilisateurs/{colleague.id}"
        [message] = await inbox.wait_for(1)
        await all_sent(committed, "firm.send_access_notice")
    async with committed() as session:
        assert await session.scalar(select(func.count()).select_from(User).where(User.email == "jean@cabinet.fr")) == 1
        roles = (await session.execute(select(DossierMembership.dossier_id, DossierMembership.role)
                                       .where(DossierMembership.user_id == colleague.id))).all()  # fmt: skip
        assert [tuple(row) for row in roles] == [(bakery.id, DossierRole.ACCOUNTANT)]
        assert await session.scalar(select(func.count()).select_from(Invitation)) == 0
        assert (await session.get(User, colleague.id)).name == "Jean Dupuis"  # type: ignore[union-attr]
    assert message["Subject"] == "Vous avez de nouveaux accès sur le Portail Cabinet"
    assert "vous avez désormais accès" in text_of(message)
    assert "Comptable" in text_of(message)
    assert "/invitation/" not in message.as_string()
    # His access as it stands, with the dossier he was given; nothing he does not see.
    assert "- Rôle dans le cabinet : Collaborateur\n- Comptable : Boulangerie Martin\n" in _lines(text_of(message))
    assert garage.name not in message.as_string()
    [run] = await runs_of(committed, "firm.send_access_notice")
    assert "Boulangerie" not in repr((run.title, run.counts, run.arguments))


async def test_the_sending_job_is_idempotent_and_a_failed_send_draws_a_new_link(
    committed: Maker, jobs: Runtime, inbox: Inbox
) -> None:
    partner, bakery, _garage = await seed(committed)
    async with committed() as session, session.begin():
        person = User(email="lea@client.fr", name="Léa Client", roles=[])
        session.add(person)
        await session.flush()
        invitation = Invitation(user_id=person.id, invited_by_id=partner.id)
        session.add(invitation)
        session.add(DossierMembership(dossier_id=bakery.id, user_id=person.id, role=DossierRole.CLIENT_USER))

    def context(settings: Settings) -> JobContext:
        return JobContext(run_id=uuid.uuid4(), sessions=jobs.sessions, created_by_id=partner.id, settings=settings)

    # The mail server is down: the link drawn never leaves, the job fails (dramatiq retries it).
    unreachable = jobs.settings.with_overrides(smtp_url="smtp://127.0.0.1:9")
    with pytest.raises(ConnectionRefusedError):
        await tasks.send_invitation(context(unreachable), invitation_id=str(invitation.id))
    lost = await invitation_of(committed, person.id)
    assert lost.token_hash is not None
    assert lost.deliveries_sent == 0

    # The retry draws a new link and sends it; running again after that sends nothing.
    summary = await tasks.send_invitation(context(jobs.settings), invitation_id=str(invitation.id))
    assert summary == {"Destinataire": "lea@client.fr", "Résultat": "Envoyée"}
    [message] = await inbox.wait_for(1)
    sent = await invitation_of(committed, person.id)
    assert sent.token_hash == token_digest(link_token(message)) != lost.token_hash
    assert sent.deliveries_sent == 1
    again = await tasks.send_invitation(context(jobs.settings), invitation_id=str(invitation.id))
    assert again["Résultat"] == "Déjà envoyée : rien à faire."
    await asyncio.sleep(0.2)
    assert len(inbox.messages) == 1


async def test_an_address_stored_before_addresses_were_checked_ends_the_run_without_retrying(
    committed: Maker, jobs: Runtime, inbox: Inbox
) -> None:
    """The form refuses such an address now; one already stored no longer fails the job five times."""
    partner, _bakery, _garage = await seed(committed)
    address = 'xss."><svg/onload=alert(5)>@cabinet-durand.fr'
    async with committed() as session, session.begin():
        person = User(email=address, name="Ancienne Saisie", roles=[])
        session.add(person)
        await session.flush()
        invitation = Invitation(user_id=person.id, invited_by_id=partner.id)
        session.add(invitation)
    context = JobContext(run_id=uuid.uuid4(), sessions=jobs.sessions, created_by_id=partner.id, settings=jobs.settings)
    summary = await tasks.send_invitation(context, invitation_id=str(invitation.id))
    assert summary["Résultat"] == tasks.UNUSABLE
    notice = await tasks.send_access_notice(context, user_id=str(person.id), roles=["Comptable"])
    assert notice["Résultat"] == tasks.UNUSABLE
    assert (await invitation_of(committed, person.id)).token_hash is None  # no link was drawn
    await asyncio.sleep(0.2)
    assert inbox.messages == []


async def test_a_link_is_spent_once_even_when_used_at_the_same_moment(committed: Maker) -> None:
    token = "jeton-de-test-pour-la-concurrence"
    async with committed() as session, session.begin():
        person = User(email="double@client.fr", name="Double Clic", roles=[])
        session.add(person)
        await session.flush()
        session.add(
            Invitation(user_id=person.id, token_hash=token_digest(token),
                       expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1), deliveries_sent=1)
        )  # fmt: skip

    async def attempt(password: str) -> str | int:
        """The password that won, or the status of the refusal."""
        try:
            async with committed() as session, session.begin():
                await InvitationService(session=session).accept(token, password=password, confirmation=password)
        except LinkError as refused:
            return refused.status
        return password

    outcomes = await asyncio.gather(*(attempt(f"mot-de-passe-numero-{number}") for number in range(4)))
    winners = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert len(winners) == 1
    assert sorted(outcome for outcome in outcomes if isinstance(outcome, int)) == [410, 410, 410]
    async with committed() as session:
        stored = await session.get(User, person.id)
        assert stored is not None
        assert verify_password(stored.password_hash, winners[0])


async def check_preview(client: httpx.AsyncClient, name: str, token: str) -> None:
    """The frame's document of the development mail page: the email's HTML, masked too, under a policy of its own
    that lets its inline styles apply (the page's own forbids them) and nothing else, framed by the portal only."""
    message = await client.get(f"/dev/courriels?message={name}")
    assert f'src="/dev/courriels/apercu?message={name}"' in message.text
    preview = await client.get(f"/dev/courriels/apercu?message={name}")
    assert preview.status_code == 200
    assert preview.headers["content-type"].startswith("text/html")
    assert preview.headers["content-security-policy"] == PREVIEW_POLICY
    assert "style-src 'unsafe-inline'" in PREVIEW_POLICY
    assert "script-src" not in PREVIEW_POLICY  # default-src 'none': no script at all
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert token not in preview.text
    assert f"{BASE}/invitation/***" in preview.text
    assert 'style="display: inline-block;' in preview.text
    assert (await client.get("/dev/courriels/apercu?message=../../secret_key")).status_code == 404
    assert (await client.get("/dev/courriels/apercu")).status_code == 404


async def test_the_embedded_outbox_is_readable_on_the_development_mail_page(
    settings: Settings, committed: Maker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: Runtime
) -> None:
    """With the page on (the demo), messages are files, read on /dev/courriels by administrators; the
    invitation's link is masked there, so an administrator never holds a link that works."""
    folder = tmp_path / "courriels"
    folder.mkdir(mode=0o755)  # as an earlier version left it
    folder.chmod(0o755)
    outbox = f"file://{folder}"
    local = settings.with_overrides(smtp_url=outbox, dev_mail_page=True)
    monkeypatch.setattr(jobs, "settings", jobs.settings.with_overrides(smtp_url=outbox, dev_mail_page=True))
    async with committed() as session, session.begin():
        admin = await make_user(session, roles=(FirmRole.ADMIN,))
        partner = await make_user(session, roles=(FirmRole.PARTNER,))
        dossier = await make_dossier(session, name="Menuiserie <Bois & Fils>")
    app = create_app(local, background=True, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        await sign_in(client, admin.email, PASSWORD)
        await invite(client, email="sophie@menuiserie.fr", nom="Sophie <b>Bois</b>", client=str(dossier.id))
        await all_sent(committed, "firm.send_invitation")
        [stored] = list_messages(folder)
        page = await client.get("/dev/courriels")
        assert page.status_code == 200
        assert "sophie@menuiserie.fr" in page.text
        assert f"/dev/courriels?message={stored.name}" in page.text
        message = await client.get(f"/dev/courriels?message={stored.name}")
        assert message.status_code == 200
        token = link_token(stored.message)
        assert token not in message.text
        assert f"{BASE}/invitation/***" in message.text
        # Every link the page shows to the administrator leads nowhere; the recipient's own works.
        shown = set(re.findall(r"/invitation/([^\s\"<&]+)", html.unescape(message.text)))
        assert shown == {"***"}
        async with visitor(app) as stranger:
            assert (await stranger.get("/invitation/***")).status_code == 404
            assert (await stranger.get(f"/invitation/{token}")).status_code == 200
        # The outbox is the owner's alone.
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / stored.name).stat().st_mode) == 0o600
        assert 'sandbox=""' in message.text
        assert "<b>Bois</b>" not in message.text  # the HTML part is escaped into the sandboxed frame
        assert (await client.get("/dev/courriels?message=../../secret_key")).status_code == 404
        await check_preview(client, stored.name, token)
        client.cookies.clear()
        await sign_in(client, partner.email, PASSWORD)
        assert (await client.get("/dev/courriels")).status_code == 403
        assert (await client.get(f"/dev/courriels/apercu?message={stored.name}")).status_code == 403

    # With a real mail server, the page does not exist.
    real = create_app(settings.with_overrides(smtp_url="smtp://127.0.0.1:9", dev_mail_page=False),
                      background=False, embedded_worker=False, migrate_on_start=False)  # fmt: skip
    async with serve_in_process(real) as client:
        await sign_in(client, admin.email, PASSWORD)
        assert (await client.get("/dev/courriels")).status_code == 404
