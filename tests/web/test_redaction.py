"""Links that let their holder in never reach a log with their token, whatever page they lead to."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole, FirmRole
from portal.firm.invitations import Grant, InvitationService, token_digest
from portal.settings import Settings
from portal.web.redaction import redact_text, redact_url
from tests.browsing import loopback_listener, serving
from tests.factories.clients import make_dossier
from tests.factories.firm import make_user

TOKEN = secrets.token_urlsafe(32)


def test_a_token_in_a_path_a_query_or_a_fragment_is_masked_and_ids_are_not() -> None:
    assert redact_url(f"http://127.0.0.1:8000/invitation/{TOKEN}") == "http://127.0.0.1:8000/invitation/***"
    # Links built later (a password reset…) are covered without being named anywhere.
    assert redact_url(f"/mot-de-passe/{TOKEN}?suite=1") == "/mot-de-passe/***?suite=1"
    assert redact_url(f"/quelque-chose/{TOKEN}/confirmer") == "/quelque-chose/***/confirmer"
    assert redact_url(f"/x?t={TOKEN}") == "/x?t=***"
    assert redact_url(f"/x#{TOKEN}") == "/x#***"
    assert (
        redact_url("/connexions/pennylane/retour?code=abc&state=xyz")
        == "/connexions/pennylane/retour?code=***&state=***"
    )
    unchanged = [
        "/utilisateurs/0195f0a2-1234-7abc-8def-0123456789ab",
        "/mot-de-passe/oublie",
        "/notes-de-frais/a-valider?page=2",
        "/entreprises?q=Z%C3%A9ph&tri=-nom",
        "/static/vendor/htmx-2.0.11.min.js",
        "/dev/courriels?message=20261207T091234123456Z-abcdef123456.eml",
    ]
    assert [redact_url(url) for url in unchanged] == unchanged
    html = f'<a href="http://h/invitation/{TOKEN}">http://h/invitation/{TOKEN}</a>.'
    assert redact_text(html) == '<a href="http://h/invitation/***">http://h/invitation/***</a>.'
    assert TOKEN not in redact_text(f"Votre lien : http://h/invitation/{TOKEN}\nÀ bientôt")


def principal_of_user(user: User) -> Principal:
    return Principal.build(user_id=user.id, email=user.email, name=user.name, locale="fr", roles=user.firm_roles)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def access_log() -> Iterator[Captured]:
    """What uvicorn's access logger writes (after uvicorn configured its logging, which drops handlers)."""
    captured = Captured()
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(captured)
    try:
        yield captured
    finally:
        logger.removeHandler(captured)


async def test_the_access_log_never_holds_an_invitation_token(
    settings: Settings, committed: async_sessionmaker[AsyncSession]
) -> None:
    """Served by uvicorn with its access log on, as in production: the link's GET and POST are logged
    with their token masked; so is any other path that carries one (a password-reset link)."""
    async with committed() as session, session.begin():
        partner = await make_user(session, roles=(FirmRole.PARTNER,))
        dossier = await make_dossier(session, name="Boulangerie Martin")
        outcome = await InvitationService(session=session).invite(
            principal_of_user(partner), email="claire@boulangerie.fr", name="Claire Martin",
            grants=[Grant(dossier.id, DossierRole.CLIENT_USER)],
        )  # fmt: skip
        invitation = await InvitationService(session=session).for_user(outcome.user.id)  # type: ignore[union-attr]
        assert invitation is not None
        invitation.token_hash = token_digest(TOKEN)
        invitation.expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with (
        loopback_listener() as (listener, base),
        serving(app, listener, log_level="info", access_log=True),
        httpx.AsyncClient(base_url=base) as client,
    ):
        with access_log() as captured:
            page = await client.get(f"/invitation/{TOKEN}")
            assert page.status_code == 200
            assert "Claire Martin" in page.text
            assert (await client.get(f"/mot-de-passe/{TOKEN}")).status_code in {403, 404}
            assert (await client.get(f"/invitation/{TOKEN}?utm={TOKEN}")).status_code == 200
    logged = "\n".join(captured.lines)
    assert "GET /invitation/*** HTTP/1.1" in logged
    assert "GET /mot-de-passe/*** HTTP/1.1" in logged
    assert TOKEN not in logged
