"""Mon compte › Mes sessions, and the absolute lifetime of a session.

Two browsers of one person on the same portal: each sees the other in Mes sessions, in words
(browser and system, address, signed in at, last seen); ending one signs that browser out on
its very next request; a session older than ``PORTAL_SESSION_ABSOLUTE_SECONDS`` since its
sign-in ends whatever its activity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts import sessions
from portal.accounts.models import User, UserSession
from portal.accounts.user_sessions import describe
from portal.audit.models import AuditEvent
from tests.browsing import csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)


@asynccontextmanager
async def browser(app: Litestar, user_agent: str, address: str) -> AsyncIterator[Client]:
    """Another browser on the running portal (``client`` runs its lifespan), from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 50002))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8000", headers={"User-Agent": user_agent}
    ) as other:
        yield other


async def rows_of(db_session: AsyncSession, user: User) -> list[UserSession]:
    statement = select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.created_at)
    return list((await db_session.execute(statement.execution_options(populate_existing=True))).scalars())


async def post(client: Client, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    token = await csrf_token(client, "/compte")
    return await client.post(path, data={**(data or {}), "_csrf_token": token}, follow_redirects=False)


def signed_out(response: httpx.Response) -> bool:
    return response.status_code in {302, 303} and response.headers["location"].startswith("/connexion")


def test_browsers_are_named_in_words() -> None:
    assert describe(FIREFOX_WINDOWS) == "Firefox sur Windows"
    assert describe(CHROME_MAC) == "Chrome sur macOS"
    assert describe(SAFARI_IPHONE) == "Safari sur iOS"
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0"
    assert describe(edge) == "Edge sur Windows"
    assert describe("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36") == (
        "Chrome sur Android"
    )
    assert describe("") == "Navigateur inconnu"


async def test_a_person_sees_their_sessions_and_ends_another_one(
    app: Litestar, client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr", name="Léa Martin")
    async with browser(app, FIREFOX_WINDOWS, "192.0.2.10") as office, browser(app, CHROME_MAC, "198.51.100.7") as home:
        assert (await sign_in(office, user.email, PASSWORD)).status_code == 303
        assert (await sign_in(home, user.email, PASSWORD)).status_code == 303

        page = await office.get("/compte")
        assert page.status_code == 200
        assert "Mes sessions" in page.text
        assert "Firefox sur Windows" in page.text
        assert "Chrome sur macOS" in page.text
        assert "192.0.2.10" in page.text
        assert "198.51.100.7" in page.text
        assert page.text.count("cette session") == 1
        assert page.text.index("Firefox sur Windows") < page.text.index("cette session")
        assert page.text.index("cette session") < page.text.index("Chrome sur macOS")  # this one first

        office_row, home_row = await rows_of(db_session, user)
        assert (office_row.user_agent, office_row.ip_address) == (FIREFOX_WINDOWS, "192.0.2.10")
        ended = await post(office, "/compte/sessions/terminer", {"session": str(home_row.id)})
        assert ended.status_code == 303
        assert "La session est terminée." in (await office.get("/compte")).text

        # The other browser is signed out on its very next request; this one is not.
        assert signed_out(await home.get("/entreprises", follow_redirects=False))
        assert (await office.get("/entreprises")).status_code == 200
        page = await office.get("/compte")
        assert "Chrome sur macOS" not in page.text
        assert "Terminer les autres sessions" not in page.text  # no other session left
    events = (
        await db_session.execute(
            select(AuditEvent.action).where(
                AuditEvent.object_id == str(user.id), AuditEvent.action == "auth.session_end"
            )
        )
    ).all()
    assert len(events) == 1


async def test_ending_every_other_session_keeps_this_one(
    app: Litestar, client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    async with (
        browser(app, FIREFOX_WINDOWS, "192.0.2.10") as office,
        browser(app, CHROME_MAC, "198.51.100.7") as home,
        browser(app, SAFARI_IPHONE, "203.0.113.5") as phone,
    ):
        for each in (office, home, phone):
            assert (await sign_in(each, user.email, PASSWORD)).status_code == 303
        page = await phone.get("/compte")
        assert "Terminer les autres sessions" in page.text
        assert (await post(phone, "/compte/sessions/terminer-les-autres")).status_code == 303
        assert "Vos autres sessions sont terminées." in (await phone.get("/compte")).text
        assert signed_out(await office.get("/entreprises", follow_redirects=False))
        assert signed_out(await home.get("/entreprises", follow_redirects=False))
        assert (await phone.get("/entreprises")).status_code == 200


async def test_nobody_ends_someone_elses_session(app: Litestar, client: Client, db_session: AsyncSession) -> None:
    victim = await make_user(db_session)
    curious = await make_user(db_session)
    async with browser(app, FIREFOX_WINDOWS, "192.0.2.10") as theirs:
        assert (await sign_in(theirs, victim.email, PASSWORD)).status_code == 303
        [row] = await rows_of(db_session, victim)
        assert (await sign_in(client, curious.email, PASSWORD)).status_code == 303
        page = await client.get("/compte")
        assert "Firefox sur Windows" not in page.text  # only one's own sessions are listed
        answer = await post(client, "/compte/sessions/terminer", {"session": str(row.id)})
        assert answer.status_code == 303
        assert "Cette session était déjà terminée." in (await client.get("/compte")).text
        assert (await post(client, "/compte/sessions/terminer", {"session": "pas-un-identifiant"})).status_code == 303
        assert (await theirs.get("/entreprises")).status_code == 200
    [row] = await rows_of(db_session, victim)
    assert row.ended_at is None


async def test_signing_out_ends_the_row(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    token = await csrf_token(client, "/compte")
    assert (await client.post("/deconnexion", data={"_csrf_token": token}, follow_redirects=False)).status_code == 303
    [row] = await rows_of(db_session, user)
    assert row.ended_at is not None


async def test_a_session_ends_after_its_absolute_lifetime_whatever_its_activity(
    client: Client, db_session: AsyncSession, app: Litestar
) -> None:
    assert app.state.settings.session_absolute_seconds == 12 * 3600  # the default
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    assert (await client.get("/entreprises")).status_code == 200
    # Active a moment ago, signed in 12 hours and 1 minute ago.
    signed_in_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=12, minutes=1)
    await db_session.execute(update(UserSession).where(UserSession.user_id == user.id).values(created_at=signed_in_at))
    await db_session.flush()
    assert signed_out(await client.get("/entreprises", follow_redirects=False))
    # For good: the session was forgotten, signing in again starts a new one.
    assert signed_out(await client.get("/compte", follow_redirects=False))
    assert (await sign_in(client, user.email, PASSWORD)).status_code == 303
    assert (await client.get("/entreprises")).status_code == 200


async def test_last_seen_is_written_at_most_once_a_minute(
    client: Client, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(db_session)
    await sign_in(client, user.email, PASSWORD)
    [row] = await rows_of(db_session, user)
    first_seen = row.last_seen_at
    for _ in range(3):
        assert (await client.get("/entreprises")).status_code == 200
    [row] = await rows_of(db_session, user)
    assert row.last_seen_at == first_seen  # within the minute: read only
    monkeypatch.setattr(sessions, "SEEN_EVERY", dt.timedelta(0))  # a minute later
    assert (await client.get("/entreprises")).status_code == 200
    [row] = await rows_of(db_session, user)
    assert row.last_seen_at > first_seen


async def test_a_failed_sign_in_is_audited_on_the_account_never_with_the_password(
    client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    wrong = "pas-le-bon-mot-de-passe"
    assert (await sign_in(client, user.email, wrong)).status_code == 401
    assert (await sign_in(client, "personne@nulle-part.fr", wrong)).status_code == 401
    [event] = (await db_session.execute(select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed"))).scalars()
    assert (event.object_type, event.object_id) == ("user_account", str(user.id))
    assert wrong not in repr(event.after) + repr(event.before)
