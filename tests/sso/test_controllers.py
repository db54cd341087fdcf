"""Single sign-on over HTTP, through the local OpenID sandbox served on a loopback port.

The portal's browser (httpx on the app) follows « Se connecter avec … » to the sandbox, a second
browser answers the sandbox's consent page as the person would, and the portal's callback is
called with the address the sandbox sent back to. The portal then talks to the sandbox over real
HTTP: discovery, token endpoint with the PKCE verifier, keys, userinfo.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import User
from portal.app import create_app
from portal.audit.models import AuditEvent
from portal.firm.invitations import token_digest
from portal.firm.models import Invitation
from portal.jobs import runtime as jobs_runtime
from portal.sandbox.oidc import OidcState
from portal.sandbox.oidc.keys import new_key
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from portal.sso.models import SsoIdentity
from tests.browsing import serve_in_process
from tests.factories.firm import make_user

Client = httpx.AsyncClient
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ACTION = re.compile(r'<form method="post" action="([^"]+)"')
ERROR = re.compile(r'id="erreur-connexion">([^<]+)<')
LABEL = "le bac à sable OpenID"


@pytest.fixture
def oidc_settings(settings: Settings, sandbox_url: str, oidc_sandbox: OidcState) -> Settings:
    return settings.with_overrides(
        oidc_issuer=f"{sandbox_url}/sandbox/oidc",
        oidc_client_id=SANDBOX_CLIENT_ID,
        oidc_client_secret=SANDBOX_CLIENT_SECRET,
        oidc_label=LABEL,
    )


@pytest.fixture
async def portal(
    oidc_settings: Settings, session_maker: async_sessionmaker[AsyncSession], jobs: jobs_runtime.Runtime
) -> AsyncIterator[Client]:
    app: Litestar = create_app(
        oidc_settings, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    async with serve_in_process(app) as client:
        yield client


async def consent(url: str, *, email: str, verified: bool = True, sub: str = "", decision: str = "allow") -> str:
    """Answer the sandbox's consent page at ``url`` as the person would; the address it sends back to."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        hidden = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
        action = ACTION.search(page.text)
        assert action
        answer = {"email": email, "name": "Personne Test", "sub": sub, "decision": decision}
        answer |= {"email_verified": "1"} if verified else {}
        sent = await browser.post(html.unescape(action.group(1)), data={**hidden, **answer})
    assert sent.status_code == 303, sent.text
    return sent.headers["location"]


async def start(portal: Client, next_path: str = "") -> str:
    """« Se connecter avec … »: where the portal sends the browser."""
    started = await portal.get("/connexion/oidc/oidc" + (f"?{urlencode({'suivant': next_path})}" if next_path else ""))
    assert started.status_code == 303, started.text
    return started.headers["location"]


async def sign_on(portal: Client, email: str, **answer: Any) -> httpx.Response:
    """The whole round trip; the portal's answer to the provider's callback."""
    back = await consent(await start(portal), email=email, **answer)
    assert back.startswith("http://127.0.0.1:8000/connexion/oidc/oidc/retour?")
    return await portal.get(back.removeprefix("http://127.0.0.1:8000"))


def refusal(response: httpx.Response) -> str:
    found = ERROR.search(response.text)
    assert found, response.text
    return html.unescape(found.group(1))


async def events(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    return list(rows.scalars())


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def signed_in(portal: Client) -> bool:
    return (await portal.get("/compte/", follow_redirects=False)).status_code == 200


# --- the sign-in page ---


async def test_the_sign_in_page_shows_a_button_per_configured_provider_and_none_without(
    client: Client, portal: Client
) -> None:
    assert "Se connecter avec" not in (await client.get("/connexion")).text
    page = html.unescape((await portal.get("/connexion")).text)
    assert f"Se connecter avec {LABEL}" in page
    assert 'href="/connexion/oidc/oidc"' in page
    # Where the person was going rides along, and comes back after the provider.
    assert (
        'href="/connexion/oidc/oidc?suivant=%2Fentreprises"'
        in (await portal.get("/connexion?suivant=/entreprises")).text
    )
    # A provider that is not configured is not a way in.
    assert (await portal.get("/connexion/oidc/google")).headers["location"] == "/connexion"


async def test_the_request_carries_pkce_state_and_nonce(portal: Client) -> None:
    started = await portal.get("/connexion/oidc/oidc")
    # What the way back needs is in a cookie of its own, encrypted: nothing is stored on the server.
    assert "portal_session" not in portal.cookies
    flow_cookie = started.headers["set-cookie"]
    assert flow_cookie.startswith("portal_oidc=")
    assert "HttpOnly" in flow_cookie
    assert "SameSite=lax" in flow_cookie or "SameSite=Lax" in flow_cookie
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["nonce"][0] not in flow_cookie
    assert query["state"][0] not in flow_cookie
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [SANDBOX_CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert len(query["code_challenge"][0]) == 43


# --- who gets in ---


async def test_a_known_person_signs_in_and_their_identity_is_linked_once(
    portal: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="claire.durand@cabinet-test.fr")
    back = await consent(await start(portal, "/entreprises"), email="Claire.Durand@Cabinet-Test.fr")
    answer = await portal.get(back.removeprefix("http://127.0.0.1:8000"))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/entreprises"
    assert await signed_in(portal)

    links = list((await db_session.execute(select(SsoIdentity))).scalars())
    assert [(link.user_id, link.provider, link.email) for link in links] == [
        (user.id, "oidc", "claire.durand@cabinet-test.fr")
    ]
    assert links[0].issuer.endswith("/sandbox/oidc")
    linked = await events(db_session, "auth.sso_link")
    assert [(event.object_id, event.actor_id) for event in linked] == [(str(user.id), user.id)]
    sign_ins = await events(db_session, "auth.sign_in")
    assert [(event.after or {}).get("method") for event in sign_ins] == ["oidc"]

    portal.cookies.clear()
    again = await sign_on(portal, "claire.durand@cabinet-test.fr")
    assert again.status_code == 303
    assert await count(db_session, SsoIdentity) == 1
    assert len(await events(db_session, "auth.sso_link")) == 1  # linked once
    assert len(await events(db_session, "auth.sign_in")) == 2


async def test_later_sign_ins_find_the_person_by_their_identity_whatever_the_address(
    portal: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="julie@cabinet-test.fr")
    assert (await sign_on(portal, "julie@cabinet-test.fr", sub="identite-julie")).status_code == 303
    portal.cookies.clear()
    # Her address changed at the provider (and is not one the firm knows): the identity still finds her.
    answer = await sign_on(portal, "julie.martin@ailleurs.fr", sub="identite-julie", verified=False)
    assert answer.status_code == 303, answer.text
    assert (await portal.get("/compte/")).status_code == 200
    assert str(user.id) in {event.object_id for event in await events(db_session, "auth.sign_in")}
    # A second identity of the same provider for the same address is refused: one per person.
    portal.cookies.clear()
    other = await sign_on(portal, "julie@cabinet-test.fr", sub="quelqu-un-d-autre")
    assert other.status_code == 403
    assert "déjà lié à une autre identité" in refusal(other)


async def test_an_unknown_address_is_refused_and_nothing_is_created(portal: Client, db_session: AsyncSession) -> None:
    await make_user(db_session)
    before = {model: await count(db_session, model) for model in (User, SsoIdentity, Invitation)}
    answer = await sign_on(portal, "inconnu@exemple.fr")
    assert answer.status_code == 403
    assert refusal(answer).startswith("Aucun compte du cabinet n'est associé à cette adresse")
    assert f"Se connecter avec {LABEL}" in html.unescape(answer.text)  # still on the sign-in page
    assert 'aria-invalid="true"' not in answer.text  # nothing typed there was wrong
    assert {model: await count(db_session, model) for model in before} == before
    assert not await signed_in(portal)
    failed = await events(db_session, "auth.sign_in_failed")
    assert [(event.after or {}).get("reason") for event in failed] == ["no_account"]
    assert (failed[0].after or {})["email"] == "inconnu@exemple.fr"


async def test_an_unverified_address_is_refused(portal: Client, db_session: AsyncSession) -> None:
    await make_user(db_session, email="thomas@cabinet-test.fr")
    answer = await sign_on(portal, "thomas@cabinet-test.fr", verified=False)
    assert answer.status_code == 403
    assert "n'indique pas que cette adresse e-mail est vérifiée" in refusal(answer)
    assert not await signed_in(portal)
    assert await count(db_session, SsoIdentity) == 0


async def test_a_deactivated_person_is_refused(portal: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, email="parti@cabinet-test.fr")
    user.is_active = False
    await db_session.flush()
    answer = await sign_on(portal, "parti@cabinet-test.fr")
    assert answer.status_code == 403
    assert not await signed_in(portal)


async def test_a_pending_invitation_is_accepted_by_signing_on(portal: Client, db_session: AsyncSession) -> None:
    person = User(email="invitee@client-test.fr", name="Invitée", roles=[])
    db_session.add(person)
    await db_session.flush()
    token = "lien-d-invitation-de-test"
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    db_session.add(Invitation(user_id=person.id, token_hash=token_digest(token), expires_at=expires, deliveries_sent=1))
    await db_session.flush()

    answer = await sign_on(portal, "invitee@client-test.fr")
    assert answer.status_code == 303, answer.text
    assert await signed_in(portal)
    invitation = (await db_session.execute(select(Invitation).where(Invitation.user_id == person.id))).scalar_one()
    await db_session.refresh(invitation)
    assert invitation.accepted_at is not None
    assert [event.object_id for event in await events(db_session, "invitation.accept")] == [str(invitation.id)]
    assert await count(db_session, SsoIdentity) == 1
    # The emailed link has served: it says so.
    portal.cookies.clear()
    assert "déjà servi" in html.unescape((await portal.get(f"/invitation/{token}")).text)


async def test_an_expired_or_revoked_invitation_lets_nobody_in(portal: Client, db_session: AsyncSession) -> None:
    for email, expires, revoked in (
        ("expire@client-test.fr", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), None),
        ("revoque@client-test.fr", dt.datetime.now(dt.UTC) + dt.timedelta(days=1), dt.datetime.now(dt.UTC)),
    ):
        person = User(email=email, name="Personne", roles=[])
        db_session.add(person)
        await db_session.flush()
        db_session.add(Invitation(user_id=person.id, token_hash=token_digest(email), expires_at=expires,
                                  revoked_at=revoked))  # fmt: skip
        await db_session.flush()
        portal.cookies.clear()
        answer = await sign_on(portal, email)
        assert answer.status_code == 403
        assert "expiré ou a été révoquée" in refusal(answer)
        assert not await signed_in(portal)
    assert await count(db_session, SsoIdentity) == 0


async def test_the_address_may_come_from_userinfo(
    portal: Client, db_session: AsyncSession, oidc_sandbox: OidcState
) -> None:
    await make_user(db_session, email="info@cabinet-test.fr")
    oidc_sandbox.email_in_id_token = False
    assert (await sign_on(portal, "info@cabinet-test.fr")).status_code == 303
    assert await signed_in(portal)


# --- what is checked ---


async def test_a_state_this_browser_did_not_start_is_refused(portal: Client, db_session: AsyncSession) -> None:
    await make_user(db_session, email="etat@cabinet-test.fr")
    back = await consent(await start(portal), email="etat@cabinet-test.fr")
    path = back.removeprefix("http://127.0.0.1:8000")
    query = parse_qs(urlsplit(path).query)
    forged = f"/connexion/oidc/oidc/retour?{urlencode({'code': query['code'][0], 'state': 'un-autre-etat'})}"
    answer = await portal.get(forged)
    assert answer.status_code == 400
    assert "n'a pas abouti" in refusal(answer)
    assert not await signed_in(portal)  # a page of the portal opened meanwhile loses nothing either
    # A forged state spends nothing of this browser's flow: the real answer still works, once…
    assert (await portal.get(path)).status_code == 303
    assert await signed_in(portal)
    portal.cookies.clear()
    # …and never twice, nor in another browser.
    assert (await portal.get(path)).status_code == 400
    # A flow cookie tampered with is no flow at all.
    back = await consent(await start(portal), email="etat@cabinet-test.fr")
    portal.cookies.set("portal_oidc", portal.cookies["portal_oidc"][:-4] + "AAAA")
    assert (await portal.get(back.removeprefix("http://127.0.0.1:8000"))).status_code == 400
    reasons = [(event.after or {}).get("reason") for event in await events(db_session, "auth.sign_in_failed")]
    assert reasons == ["state_mismatch"] * 3


@pytest.mark.parametrize(
    ("tuning", "reason"),
    [
        ({"claims": {"nonce": "pas-celui-envoye"}}, "id_token_claims:nonce"),
        ({"claims": {"aud": "une-autre-application"}}, "id_token_claims:invalid_claim"),
        ({"claims": {"iss": "https://ailleurs.example"}}, "id_token_claims:invalid_claim"),
        ({"claims": {"exp": int(time.time()) - 3600}}, "id_token_claims:expired_token"),
        ({"foreign_key": True}, "id_token_signature"),
    ],
    ids=["nonce", "audience", "issuer", "expired", "other-key"],
)
async def test_an_id_token_that_does_not_hold_is_refused(
    portal: Client, db_session: AsyncSession, oidc_sandbox: OidcState, tuning: dict[str, Any], reason: str
) -> None:
    await make_user(db_session, email="jeton@cabinet-test.fr")
    oidc_sandbox.claims = tuning.get("claims", {})
    if tuning.get("foreign_key"):
        oidc_sandbox.foreign_key = new_key()  # same key id, another key: the signature cannot match
    answer = await sign_on(portal, "jeton@cabinet-test.fr")
    assert answer.status_code == 400, answer.text
    assert "n'a pas abouti" in refusal(answer)
    assert not await signed_in(portal)
    assert await count(db_session, SsoIdentity) == 0
    failed = await events(db_session, "auth.sign_in_failed")
    assert [(event.after or {}).get("reason") for event in failed] == [reason]


async def test_keys_the_provider_rotated_are_read_again(
    portal: Client, db_session: AsyncSession, oidc_sandbox: OidcState
) -> None:
    await make_user(db_session, email="rotation@cabinet-test.fr")
    assert (await sign_on(portal, "rotation@cabinet-test.fr")).status_code == 303  # the key set is kept now
    oidc_sandbox.rotated_key = new_key()  # a new key id the kept set does not know
    portal.cookies.clear()
    assert (await sign_on(portal, "rotation@cabinet-test.fr")).status_code == 303
    assert await signed_in(portal)


async def test_refusing_at_the_provider_comes_back_to_the_sign_in_page(portal: Client) -> None:
    back = await consent(await start(portal), email="qui@exemple.fr", decision="deny")
    answer = await portal.get(back.removeprefix("http://127.0.0.1:8000"))
    assert answer.status_code == 400
    assert "annulée chez le fournisseur" in refusal(answer)
