"""Two-factor sign-in: enrolling an authenticator app from Mon compte, codes at sign-in, recovery codes."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import httpx
import pyotp
from sqlalchemy import literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.flow import PENDING_LIFETIME, Pending
from portal.accounts.models import RecoveryCode, SecondFactor, TrustedBrowser, User
from portal.audit.models import AuditEvent
from portal.auth.roles import FirmRole
from tests.browsing import csrf_token, sign_in
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
SECRET = re.compile(r'id="cle-secrete">([A-Z2-7 ]+)<')
CODES = re.compile(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>")


async def post(client: Client, path: str, data: dict[str, str], *, page: str = "/compte") -> httpx.Response:
    token = await csrf_token(client, page)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


def code_at(secret: str, *, steps_ahead: int = 0) -> str:
    """The app's code, ``steps_ahead`` periods of 30 s from now (the portal accepts one step either side)."""
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * steps_ahead))


async def enrol(client: Client) -> tuple[str, list[str]]:
    """Activate the second factor from Mon compte, as a person does: the secret read on the page, and the codes."""
    started = await post(client, "/compte/double-authentification", {}, page="/compte/double-authentification")
    assert started.status_code == 303
    page = await client.get("/compte/double-authentification")
    match = SECRET.search(page.text)
    assert match, page.text
    secret = match.group(1).replace(" ", "")
    confirmed = await post(
        client,
        "/compte/double-authentification/confirmer",
        {"code": code_at(secret)},
        page="/compte/double-authentification",
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = CODES.findall(confirmed.text)
    return secret, codes


async def sign_in_with_code(client: Client, email: str, code: str) -> httpx.Response:
    first = await sign_in(client, email, PASSWORD)
    assert first.status_code == 303
    assert first.headers["location"] == "/connexion/code"
    return await post(client, "/connexion/code", {"code": code}, page="/connexion/code")


async def events(session: AsyncSession, user: User) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.object_id == str(user.id)).order_by(AuditEvent.created_at)
    )
    return list(rows.scalars())


async def test_a_person_enrols_an_authenticator_app_from_their_account(
    client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    profile = await client.get("/compte")
    assert "Double authentification" in profile.text
    assert "Activer la double authentification" in profile.text

    await post(client, "/compte/double-authentification", {})
    page = await client.get("/compte/double-authentification")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    # The QR code is drawn here, inline: no outside service, no script, no style attribute the CSP would block.
    assert '<svg viewBox="0 0' in page.text
    assert 'class="qr-code"' in page.text
    drawing = page.text.split('class="qr-code"')[1].split("</svg>")[0]
    assert "http" not in drawing
    assert "style=" not in drawing
    assert "script" not in drawing
    assert "style-src 'self'" in page.headers["content-security-policy"]
    secret = SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", secret)
    secret = secret.replace(" ", "")

    wrong = await post(
        client, "/compte/double-authentification/confirmer", {"code": "000000"}, page="/compte/double-authentification"
    )
    assert wrong.status_code == 422
    assert "Code incorrect" in wrong.text
    assert secret in wrong.text.replace(" ", "")  # the same secret, still to confirm
    assert not (await client.get("/compte")).text.count("Activée")

    done = await post(
        client,
        "/compte/double-authentification/confirmer",
        {"code": code_at(secret)},
        page="/compte/double-authentification",
    )
    assert done.status_code == 200
    assert done.headers["cache-control"] == "no-store"
    codes = CODES.findall(done.text)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    profile = await client.get("/compte")
    assert "Activée" in profile.text
    assert "10 codes de secours restants" in profile.text
    assert not any(code in profile.text for code in codes)  # shown once

    # At rest: the secret encrypted, the codes hashed.
    raw_secret = literal_column("secret")  # untyped: the stored text, not decrypted
    stored = (
        await db_session.execute(select(raw_secret).select_from(SecondFactor).where(SecondFactor.user_id == user.id))
    ).scalar()
    assert stored is not None
    assert secret not in stored
    hashes = (await db_session.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))).scalars()
    assert not set(hashes) & set(codes)
    # Audited, never with the secret or a code.
    logged = await events(db_session, user)
    assert [event.action for event in logged if event.action.startswith("second_factor.")] == [
        "second_factor.enrol_failed",
        "second_factor.enrol",
    ]
    dumped = json.dumps([[event.before, event.after] for event in logged])
    assert secret not in dumped
    assert not any(code in dumped for code in codes)


async def test_signing_in_asks_for_the_code_and_only_then_opens_the_session(
    client: Client, db_session: AsyncSession
) -> None:
    await make_user(db_session, email="lea@cabinet-test.fr", roles=(FirmRole.PARTNER,))
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, _codes = await enrol(client)
    await post(client, "/deconnexion", {})

    async def password_step() -> httpx.Response:
        token = await csrf_token(client)
        return await client.post(
            "/connexion",
            data={
                "email": "lea@cabinet-test.fr",
                "password": PASSWORD,
                "suivant": "/utilisateurs",
                "_csrf_token": token,
            },
            follow_redirects=False,
        )

    first = await password_step()
    assert first.headers["location"] == "/connexion/code"
    # Not signed in yet: the password alone opens nothing (and trying drops the pending sign-in).
    assert (await client.get("/entreprises", follow_redirects=False)).status_code in {302, 303}
    assert (await client.get("/connexion/code", follow_redirects=False)).headers["location"] == "/connexion"
    assert (await password_step()).headers["location"] == "/connexion/code"
    page = await client.get("/connexion/code")
    assert page.status_code == 200
    assert "Double authentification" in page.text

    wrong = await post(client, "/connexion/code", {"code": "123456"}, page="/connexion/code")
    assert wrong.status_code == 401
    assert "Code incorrect." in wrong.text
    right = await post(client, "/connexion/code", {"code": code_at(secret, steps_ahead=1)}, page="/connexion/code")
    assert right.status_code == 303
    assert right.headers["location"] == "/utilisateurs"
    assert (await client.get("/entreprises")).status_code == 200


async def test_a_code_already_used_is_refused(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, _codes = await enrol(client)
    await post(client, "/deconnexion", {})
    code = code_at(secret, steps_ahead=1)
    assert (await sign_in_with_code(client, "lea@cabinet-test.fr", code)).status_code == 303
    await post(client, "/deconnexion", {})

    again = await sign_in_with_code(client, "lea@cabinet-test.fr", code)
    assert again.status_code == 401
    assert "déjà été utilisé" in again.text
    # The code of the step before (older than the one used) is refused too.
    older = await post(client, "/connexion/code", {"code": code_at(secret)}, page="/connexion/code")
    assert older.status_code == 401
    reasons = [event.after for event in await events(db_session, user) if event.action == "second_factor.failed"]
    assert reasons == [{"reason": "reused"}, {"reason": "reused"}]


async def test_a_recovery_code_signs_in_once(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    _secret, codes = await enrol(client)
    await post(client, "/deconnexion", {})

    used = await sign_in_with_code(client, "lea@cabinet-test.fr", codes[3].upper().replace("-", " "))
    assert used.status_code == 303
    assert "Code de secours utilisé : il vous en reste 9." in (await client.get("/", follow_redirects=True)).text
    profile = await client.get("/compte")
    assert "9 codes de secours restants" in profile.text
    await post(client, "/deconnexion", {})

    again = await sign_in_with_code(client, "lea@cabinet-test.fr", codes[3])
    assert again.status_code == 401
    assert "Code incorrect." in again.text
    actions = [event.action for event in await events(db_session, user)]
    assert actions.count("second_factor.recovery_code_used") == 1
    assert actions.count("second_factor.failed") == 1


async def test_five_wrong_codes_end_the_pending_sign_in(client: Client, db_session: AsyncSession) -> None:
    await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, _codes = await enrol(client)
    await post(client, "/deconnexion", {})
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    for _attempt in range(4):
        refused = await post(client, "/connexion/code", {"code": "000000"}, page="/connexion/code")
        assert refused.status_code == 401
    fifth = await post(client, "/connexion/code", {"code": "000000"}, page="/connexion/code")
    assert fifth.status_code == 429
    assert "recommencez la connexion" in fifth.text
    # The pending sign-in is gone: the page sends back to the password.
    back = await client.get("/connexion/code", follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == "/connexion"
    # And across sign-ins, the account refuses codes for the window, even the right one.
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    locked = await post(client, "/connexion/code", {"code": code_at(secret, steps_ahead=1)}, page="/connexion/code")
    assert locked.status_code == 429
    assert "Trop de codes incorrects. Réessayez dans 15 minutes." in locked.text
    assert (await client.get("/entreprises", follow_redirects=False)).status_code in {302, 303}


async def test_a_pending_sign_in_expires(client: Client, db_session: AsyncSession) -> None:
    started = dt.datetime.now(dt.UTC) - PENDING_LIFETIME - dt.timedelta(seconds=1)
    assert Pending(uuid.uuid4(), 0, "/", started, 0).expired()
    assert not Pending(uuid.uuid4(), 0, "/", dt.datetime.now(dt.UTC), 0).expired()
    # Without a pending sign-in, the code page leads back to the password.
    response = await client.get("/connexion/code", follow_redirects=False)
    assert response.headers["location"] == "/connexion"
    refused = await post(client, "/connexion/code", {"code": "123456"}, page="/connexion")
    assert refused.status_code == 303


async def test_disabling_needs_a_code_or_the_password(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    await enrol(client)
    refused = await post(client, "/compte/double-authentification/desactiver", {"code": "pas le bon"})
    assert refused.status_code == 422
    assert "Code ou mot de passe incorrect." in refused.text
    assert "Activée" in (await client.get("/compte")).text

    done = await post(client, "/compte/double-authentification/desactiver", {"code": PASSWORD})
    assert done.status_code == 303
    assert "Activer la double authentification" in (await client.get("/compte")).text
    assert (await db_session.execute(select(SecondFactor).where(SecondFactor.user_id == user.id))).first() is None
    assert (await db_session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id))).first() is None
    await post(client, "/deconnexion", {})
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/"
    actions = [event.action for event in await events(db_session, user)]
    assert "second_factor.disable" in actions
    assert "second_factor.failed" in actions


async def test_new_recovery_codes_replace_the_old_ones(client: Client, db_session: AsyncSession) -> None:
    await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, old = await enrol(client)
    response = await post(
        client, "/compte/double-authentification/codes-de-secours", {"code": code_at(secret, steps_ahead=1)}
    )
    assert response.status_code == 200
    new = CODES.findall(response.text)
    assert len(new) == 10
    assert not set(new) & set(old)
    await post(client, "/deconnexion", {})
    assert (await sign_in_with_code(client, "lea@cabinet-test.fr", old[0])).status_code == 401
    await client.get("/connexion")
    assert (await post(client, "/connexion/code", {"code": new[0]}, page="/connexion/code")).status_code == 303


async def test_a_deactivated_person_with_a_pending_sign_in_gets_nothing(
    client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, _codes = await enrol(client)
    await post(client, "/deconnexion", {})
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    await db_session.execute(
        update(User).where(User.id == user.id).values(is_active=False, session_epoch=User.session_epoch + 1)
    )
    refused = await post(client, "/connexion/code", {"code": code_at(secret, steps_ahead=1)}, page="/connexion/code")
    assert refused.status_code == 401
    assert (await client.get("/entreprises", follow_redirects=False)).status_code in {302, 303}


async def test_the_code_page_leaves_a_signed_in_session_alone(client: Client, db_session: AsyncSession) -> None:
    await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    response = await client.get("/connexion/code", follow_redirects=False)
    assert response.headers["location"] == "/connexion"
    assert (await client.get("/compte")).status_code == 200


async def test_a_browser_remembered_after_a_right_code_asks_for_the_password_alone_until_forgotten(
    client: Client, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, _codes = await enrol(client)
    await post(client, "/deconnexion", {})
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    remembered = await post(
        client, "/connexion/code", {"code": code_at(secret, steps_ahead=1), "se_souvenir": "1"}, page="/connexion/code"
    )
    assert remembered.status_code == 303
    cookie = remembered.headers["set-cookie"]
    assert "portal_trusted_browser=" in cookie
    assert "HttpOnly" in cookie
    assert "Max-Age=2592000" in cookie or "Max-Age=259199" in cookie
    token = client.cookies["portal_trusted_browser"]
    stored = (await db_session.execute(select(TrustedBrowser.token_hash))).scalars().all()
    assert token not in stored  # only its hash
    assert "1 navigateur ne demande pas de code" in (await client.get("/compte")).text
    await post(client, "/deconnexion", {})

    # This browser: the password alone. Another browser (no cookie): the code.
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/"
    await post(client, "/deconnexion", {})
    client.cookies.delete("portal_trusted_browser")
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/connexion/code"
    client.cookies.set("portal_trusted_browser", "un-jeton-invente")
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/connexion/code"

    # Forgotten from Mon compte: the code again.
    client.cookies.set("portal_trusted_browser", token)
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/"
    assert (await post(client, "/compte/double-authentification/navigateurs/oublier", {})).status_code == 303
    await post(client, "/deconnexion", {})
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/connexion/code"
    actions = [event.action for event in await events(db_session, user)]
    assert "second_factor.trust_browser" in actions
    assert "second_factor.trusted_browser_used" in actions
    assert "second_factor.forget_browsers" in actions


async def test_signing_out_everywhere_forgets_remembered_browsers(client: Client, db_session: AsyncSession) -> None:
    user = await make_user(db_session, email="lea@cabinet-test.fr")
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    secret, codes = await enrol(client)
    await post(client, "/deconnexion", {})
    await sign_in(client, "lea@cabinet-test.fr", PASSWORD)
    await post(client, "/connexion/code", {"code": code_at(secret, steps_ahead=1), "se_souvenir": "1"},
               page="/connexion/code")  # fmt: skip
    await post(client, "/deconnexion", {})
    await db_session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))
    assert (await sign_in(client, "lea@cabinet-test.fr", PASSWORD)).headers["location"] == "/connexion/code"
    assert (await post(client, "/connexion/code", {"code": codes[0]}, page="/connexion/code")).status_code == 303
    assert 'id="navigateurs-memorises"><span class="muted">Aucun' in (await client.get("/compte")).text
