"""Connecting a dossier to Pennylane from its Connexions page, against the sandbox over HTTP.

The portal's own pages start and finish the authorisation (``state`` in the person's
session, PKCE verifier never sent to the browser); the jobs a worker would run are run
inline here, in the test's transaction, with the same functions.
"""

from __future__ import annotations

import dataclasses
import html
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.integrations.models import Connection, ConnectionStatus
from portal.integrations.pennylane import tasks
from portal.integrations.pennylane.services import try_api_token
from portal.integrations.services import ConnectionRequestError
from portal.jobs.context import JobContext, JobFailed
from portal.jobs.models import JobRun, OutboxMessage
from portal.ledger.models import FiscalYear, LedgerImport, VersionState
from portal.notifications import tasks as notification_tasks
from portal.notifications.kinds import Kind
from portal.notifications.models import Notification
from portal.sandbox.pennylane import SandboxState
from portal.settings import Settings
from tests.browsing import csrf_token, serve_in_process, sign_in
from tests.factories.clients import make_dossier
from tests.factories.firm import PASSWORD, add_role, make_user
from tests.pennylane_consent import form_of

Client = httpx.AsyncClient


@pytest.fixture
async def portal(
    pennylane_settings: Settings, session_maker: async_sessionmaker[AsyncSession], jobs: object, tmp_path: Any
) -> AsyncIterator[Client]:
    """The portal (in process) whose Pennylane is the sandbox, emails into a folder of this test."""
    settings = pennylane_settings.with_overrides(smtp_url=f"file://{tmp_path / 'mail'}")
    app: Litestar = create_app(
        settings, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    async with serve_in_process(app) as client:
        client.portal_settings = settings  # type: ignore[attr-defined]
        yield client


def _settings(client: Client) -> Settings:
    settings: Settings = client.portal_settings  # type: ignore[attr-defined]
    return settings


def _context(
    session_maker: async_sessionmaker[AsyncSession], settings: Settings, user: User, run_id: uuid.UUID | None = None
) -> JobContext:
    """What a worker hands a job (of run ``run_id``), over the test's transaction."""

    def sessions(*, read_only: bool = False) -> AsyncSession:
        return session_maker()

    return JobContext(run_id=run_id or uuid.uuid4(), sessions=sessions, created_by_id=user.id, settings=settings)  # type: ignore[arg-type]


async def _setup(db_session: AsyncSession, client: Client) -> tuple[User, User, Dossier]:
    partner = await make_user(db_session, roles=(FirmRole.PARTNER,), name="Claire Durand")
    comptable = await make_user(db_session, roles=(FirmRole.COLLABORATOR,), name="Julie Bernard")
    dossier = await make_dossier(db_session, name="Boulangerie Martin")
    await add_role(db_session, comptable, dossier, DossierRole.ACCOUNTANT)
    assert (await sign_in(client, partner.email, PASSWORD)).status_code in {302, 303}
    return partner, comptable, dossier


async def _start(client: Client, dossier: Dossier) -> str:
    """« Connecter Pennylane »: where the portal sends the browser."""
    page = f"/entreprises/{dossier.id}/connexions"
    token = await csrf_token(client, page)
    response = await client.post(f"{page}/pennylane", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"]


async def _consent(authorize_url: str, company: str = "Boulangerie Martin") -> str:
    """The person's answer on Pennylane's consent page: the portal's callback URL, with code and state."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(authorize_url)
        assert page.status_code == 200, page.text
        action, hidden, companies = form_of(page.text)
        answer = await browser.post(action, data={**hidden, "company_id": companies[company], "decision": "allow"})
    assert answer.status_code == 303
    return answer.headers["location"]


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _connection(db_session: AsyncSession, dossier: Dossier) -> Connection | None:
    statement = select(Connection).where(Connection.dossier_id == dossier.id)
    return (await db_session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def _connect(client: Client, dossier: Dossier) -> None:
    callback = await _consent(await _start(client, dossier))
    done = await client.get(_local(callback), follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/entreprises/{dossier.id}/connexions/pennylane/exercices"


async def test_connecting_checks_state_and_pkce_and_keeps_the_tokens_encrypted(
    portal: Client, db_session: AsyncSession
) -> None:
    _partner, _comptable, dossier = await _setup(db_session, portal)
    authorize = await _start(portal, dossier)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {"fiscal_years:readonly", "exports:fec"}
    state = query["state"][0]
    callback = await _consent(authorize)
    assert parse_qs(urlsplit(callback).query)["state"] == [state]

    # A callback whose state this browser never asked for: refused, nothing stored.
    forged = _local(callback).replace(state, "un-etat-invente")
    refused = await portal.get(forged, follow_redirects=False)
    assert refused.status_code == 400
    assert "ne correspond à aucune demande" in html.unescape(refused.text)
    assert await _connection(db_session, dossier) is None

    # The same browser, but the code of one authorisation presented under another's state:
    # the portal sends that other request's PKCE verifier, and Pennylane refuses the code.
    second = await _start(portal, dossier)
    second_state = parse_qs(urlsplit(second).query)["state"][0]
    swapped = _local(callback).replace(state, second_state)
    refused = await portal.get(swapped, follow_redirects=False)
    assert refused.status_code == 400
    assert await _connection(db_session, dossier) is None

    # Pennylane spent that code on the refused attempt; a fresh authorisation connects the dossier.
    callback = await _consent(await _start(portal, dossier))
    done = await portal.get(_local(callback), follow_redirects=False)
    assert done.status_code == 303, done.text
    connection = await _connection(db_session, dossier)
    assert connection is not None
    assert connection.status is ConnectionStatus.CONNECTED
    token = (connection.credentials or {})["token"]
    assert token["access_token"]
    assert token["refresh_token"]
    raw = (
        await db_session.execute(
            text("SELECT credentials FROM integration_connection WHERE dossier_id = :id"),
            {"id": dossier.id.bytes if db_session.get_bind().dialect.name == "sqlite" else dossier.id},
        )
    ).scalar_one()
    assert token["access_token"] not in raw
    assert token["refresh_token"] not in raw
    assert raw.startswith("gAAAAA")  # a Fernet token
    page = await portal.get(f"/entreprises/{dossier.id}/connexions")
    assert token["access_token"] not in page.text
    assert token["refresh_token"] not in page.text
    # A state works once: replaying the callback is refused.
    assert (await portal.get(_local(callback), follow_redirects=False)).status_code == 400
    # The next step was asked of a worker: reading the fiscal years.
    run = (await db_session.execute(select(JobRun).where(JobRun.dossier_id == dossier.id))).scalars().all()
    assert [item.actor_name for item in run] == ["pennylane.fiscal_years"]


async def test_fiscal_years_then_two_imported_never_doubled_and_rotated_tokens_saved(
    portal: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], sandbox: SandboxState
) -> None:
    partner, _comptable, dossier = await _setup(db_session, portal)
    await _connect(portal, dossier)
    context = _context(session_maker, _settings(portal), partner)
    connection = await _connection(db_session, dossier)
    assert connection is not None
    found = await tasks.fiscal_years(context, str(connection.id))
    assert found == {tasks.FOUND: 4}
    page = html.unescape((await portal.get(f"/entreprises/{dossier.id}/connexions/pennylane/exercices")).text)
    for year in (2023, 2024, 2025, 2026):
        assert f"Exercice du 01/01/{year} au 31/12/{year}" in page
    connection = await _connection(db_session, dossier)
    assert connection is not None
    ids = {item["start"][:4]: item["id"] for item in connection.fiscal_years or []}

    token = await csrf_token(portal, f"/entreprises/{dossier.id}/connexions/pennylane/exercices")
    nothing = await portal.post(
        f"/entreprises/{dossier.id}/connexions/pennylane/exercices", data={"_csrf_token": token}
    )
    assert nothing.status_code == 422
    assert "Choisissez au moins un exercice" in html.unescape(nothing.text)
    for _twice in range(2):  # asked twice (two tabs, or again later): the second import replaces the first
        chosen = await portal.post(
            f"/entreprises/{dossier.id}/connexions/pennylane/exercices",
            data={"_csrf_token": token, "exercice": [ids["2023"], ids["2024"]]}, follow_redirects=False,
        )  # fmt: skip
        assert chosen.status_code == 303
    runs = (
        (
            await db_session.execute(
                select(JobRun).where(JobRun.actor_name == "pennylane.import_fiscal_years").order_by(JobRun.created_at)
            )
        )
        .scalars()
        .all()
    )
    assert len(runs) == 2
    before = connection.credentials_version
    sandbox.expire_access_tokens()  # the worker must refresh (rotating) before it can export
    for run in (*runs, runs[-1]):  # the last one delivered twice: its second delivery redoes nothing
        context = _context(session_maker, _settings(portal), partner, run.id)
        summary = await tasks.import_fiscal_years(context, str(connection.id), **_arguments(run))
        assert summary[tasks.IMPORTED] == "2 / 2"
    years = (
        (
            await db_session.execute(
                select(FiscalYear).where(FiscalYear.dossier_id == dossier.id, FiscalYear.state == VersionState.ACTIVE)
            )
        )
        .scalars()
        .all()
    )
    assert sorted(year.end_date.year for year in years) == [2023, 2024]
    assert await db_session.scalar(select(func.count()).select_from(FiscalYear)) == 2
    assert all(year.line_count > 100 and year.debit_total == year.credit_total for year in years)
    connection = await _connection(db_session, dossier)
    assert connection is not None
    assert connection.credentials_version > before  # the rotated pair was saved at once
    assert sandbox.counters["refreshes"] >= 1
    imports = (await db_session.execute(select(LedgerImport))).scalars().all()
    assert len(imports) == 4  # two runs, two fiscal years each; the redelivery added none
    assert sum(record.replaced for record in imports) == 2
    assert {record.filename for record in imports} == {
        f"{dossier.siren}FEC20231231.txt",
        f"{dossier.siren}FEC20241231.txt",
    }
    ledger = await portal.get(f"/entreprises/{dossier.id}/comptabilite")
    assert ledger.status_code == 200
    assert 'tbody class="entry"' in ledger.text


def _arguments(run: JobRun) -> dict[str, Any]:
    arguments = dict(run.arguments)
    arguments.pop("connection_id")
    return arguments


async def test_a_revoked_authorization_shows_on_the_connection_and_tells_the_comptable(
    portal: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], sandbox: SandboxState
) -> None:
    partner, comptable, dossier = await _setup(db_session, portal)
    await _connect(portal, dossier)
    connection = await _connection(db_session, dossier)
    assert connection is not None
    token = (connection.credentials or {})["token"]
    assert sandbox.revoke(token["refresh_token"])  # revoked from Pennylane's side
    context = _context(session_maker, _settings(portal), partner)
    with pytest.raises(JobFailed) as failed:  # the run fails for good: « Échec », never « Terminé »
        await tasks.fiscal_years(context, str(connection.id))
    assert failed.value.message == tasks.LOST
    connection = await _connection(db_session, dossier)
    assert connection is not None
    assert connection.status is ConnectionStatus.AUTHORIZATION_LOST
    page = html.unescape((await portal.get(f"/entreprises/{dossier.id}/connexions")).text)
    assert "Autorisation expirée ou révoquée" in page
    assert "Reconnectez Pennylane" in page
    assert "Connecter Pennylane" in page

    # One notice per person and lost authorisation, however many jobs notice it: in the portal and by email.
    assert await tasks.fiscal_years(context, str(connection.id)) == {tasks.RESULT: tasks.GONE}
    notices = (
        (await db_session.execute(select(Notification).where(Notification.kind == Kind.CONNECTION_LOST)))
        .scalars()
        .all()
    )
    assert {notice.recipient_id for notice in notices} == {comptable.id, partner.id}  # and who connected it
    emails = (
        (await db_session.execute(select(OutboxMessage).where(OutboxMessage.actor_name == "notifications.send_email")))
        .scalars()
        .all()
    )
    assert len(emails) == 2
    for notice in notices:
        assert await notification_tasks.send_email(context, str(notice.id)) == {
            notification_tasks.RESULT: notification_tasks.SENT
        }
    folder = _settings(portal).mail_outbox_dir
    assert folder is not None
    messages = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(folder.glob("*.eml"))]
    recipients = {str(message["To"]) for message in messages}
    assert any(comptable.email in recipient for recipient in recipients)
    (to_comptable,) = [message for message in messages if comptable.email in str(message["To"])]
    assert "Boulangerie Martin" in str(to_comptable["Subject"])
    body = to_comptable.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"/entreprises/{dossier.id}/connexions" in body.get_content()


async def test_a_personal_token_is_kept_encrypted_and_never_shown_again(
    portal: Client, db_session: AsyncSession, session_maker: async_sessionmaker[AsyncSession], sandbox: SandboxState
) -> None:
    partner, _comptable, dossier = await _setup(db_session, portal)
    company = next(item for item in sandbox.companies if item.name == "Boulangerie Martin")
    secret, _record = sandbox.create_api_token(
        name="Portail", company_id=company.id, scopes=frozenset({"fiscal_years:readonly", "exports:fec"}),
        lifetime_days=None,
    )  # fmt: skip
    page = f"/entreprises/{dossier.id}/connexions"
    token = await csrf_token(portal, page)
    short = await portal.post(f"{page}/pennylane/jeton", data={"_csrf_token": token, "jeton": "abc"})
    assert short.status_code == 422
    assert "trop court" in html.unescape(short.text)
    saved = await portal.post(
        f"{page}/pennylane/jeton", data={"_csrf_token": token, "jeton": f"  {secret} "}, follow_redirects=False
    )
    assert saved.status_code == 303
    for path in (page, f"{page}/pennylane/exercices"):
        shown = (await portal.get(path)).text
        assert secret not in shown
    assert f"…{secret[-4:]}" in html.unescape((await portal.get(page)).text)
    raw = (await db_session.execute(text("SELECT credentials, token_hint FROM integration_connection"))).one()
    assert secret not in raw[0]
    connection = await _connection(db_session, dossier)
    assert connection is not None
    assert (connection.credentials or {}) == {"api_token": secret}
    found = await tasks.fiscal_years(_context(session_maker, _settings(portal), partner), str(connection.id))
    assert found == {tasks.FOUND: 4}
    # A token Pennylane deleted: the connection says so.
    sandbox.delete_api_token(_record.id)
    with pytest.raises(JobFailed) as lost:
        await tasks.fiscal_years(_context(session_maker, _settings(portal), partner), str(connection.id))
    assert lost.value.message == tasks.LOST


async def test_a_pasted_token_is_tried_at_pennylane_before_anything_is_kept(
    portal: Client, db_session: AsyncSession, sandbox: SandboxState
) -> None:
    """A token Pennylane refuses, or one without the fiscal years' right, is said so on the form: no
    connection, no job, nothing to undo. Pennylane out of reach says that it could not be checked."""
    _partner, _comptable, dossier = await _setup(db_session, portal)
    company = next(item for item in sandbox.companies if item.name == "Boulangerie Martin")
    narrow, _record = sandbox.create_api_token(
        name="Sans les exercices", company_id=company.id, scopes=frozenset({"exports:fec"}), lifetime_days=None
    )
    page = f"/entreprises/{dossier.id}/connexions"
    token = await csrf_token(portal, page)
    mistyped = narrow[:-4] + "zzzz"
    for pasted, words in (
        (mistyped, "Jeton refusé par Pennylane : le jeton se terminant par « …zzzz » n'est pas reconnu"),
        (narrow, "Ce jeton Pennylane ne donne pas accès aux exercices"),
    ):
        refused = await portal.post(f"{page}/pennylane/jeton", data={"_csrf_token": token, "jeton": pasted})
        assert refused.status_code == 422
        shown = html.unescape(refused.text)
        assert words in shown
        assert "Rien n'a été enregistré." in shown
        assert pasted not in shown
    assert await _connection(db_session, dossier) is None
    assert await db_session.scalar(select(func.count()).select_from(JobRun)) == 0

    unreachable = dataclasses.replace(_settings(portal), pennylane_api_url="http://127.0.0.1:9/api/external/v2")
    with pytest.raises(ConnectionRequestError) as down:
        await try_api_token(unreachable, narrow)
    assert down.value.text().startswith("Pennylane ne répond pas pour le moment : le jeton n'a pas pu être vérifié")
