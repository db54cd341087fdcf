"""Sign-in throttling slows a guesser down without locking the person out, and counts exactly."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts import services, throttle
from portal.accounts.models import LoginAttempt, SignInCounter
from portal.accounts.services import SignInError, authenticate
from portal.settings import Settings
from tests.browsing import csrf_token
from tests.factories.firm import PASSWORD, make_user

Client = httpx.AsyncClient
ROBOT, OFFICE = "198.51.100.66", "192.0.2.10"


async def _try(session: AsyncSession, settings: Settings, email: str, password: str, address: str) -> int:
    """The status a sign-in attempt gets (200: signed in)."""
    try:
        await authenticate(session, settings, email=email, password=password, ip_address=address)
    except SignInError as refused:
        return refused.status
    return 200


async def test_a_robot_elsewhere_never_locks_the_person_out(db_session: AsyncSession, settings: Settings) -> None:
    user = await make_user(db_session)
    statuses = [await _try(db_session, settings, user.email, "devine-1234567", ROBOT) for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    # The robot's address is refused even the right password for a while…
    assert await _try(db_session, settings, user.email, PASSWORD, ROBOT) == 429
    # …but the person, from the office, gets in at once.
    assert await _try(db_session, settings, user.email, PASSWORD, OFFICE) == 200


async def test_the_refusal_says_when_to_try_again_and_grows_each_time(
    db_session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(db_session)
    clock = [1_900_000_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    for _ in range(5):
        assert await _try(db_session, settings, user.email, "devine-1234567", ROBOT) == 401
    with pytest.raises(SignInError, match="Réessayez dans 15 minutes") as first:
        await authenticate(db_session, settings, email=user.email, password="x", ip_address=ROBOT)
    assert first.value.status == 429
    assert "Trop de tentatives" in first.value.message
    clock[0] += 15 * 60  # the refusal is over: five more tries, then twice as long
    for _ in range(5):
        assert await _try(db_session, settings, user.email, "devine-1234567", ROBOT) == 401
    with pytest.raises(SignInError, match="Réessayez dans 30 minutes"):
        await authenticate(db_session, settings, email=user.email, password="x", ip_address=ROBOT)
    clock[0] += 30 * 60
    assert await _try(db_session, settings, user.email, PASSWORD, ROBOT) == 200  # the right one, at last
    # Signing in forgets the pair: the count starts from nothing.
    pair = throttle.pair_key(user.email, ROBOT)
    assert (await db_session.execute(select(SignInCounter).where(SignInCounter.key == pair))).first() is None


async def test_an_address_trying_many_accounts_is_slowed_down(db_session: AsyncSession, settings: Settings) -> None:
    limit = settings.login_max_failures * throttle.ADDRESS_FACTOR
    for number in range(limit):
        assert await _try(db_session, settings, f"inconnu{number}@exemple.fr", "devine-1234567", ROBOT) == 401
    assert await _try(db_session, settings, "encore-un@exemple.fr", "devine-1234567", ROBOT) == 429
    user = await make_user(db_session)
    assert await _try(db_session, settings, user.email, PASSWORD, OFFICE) == 200


async def test_concurrent_wrong_guesses_never_go_past_the_limit(
    committed: async_sessionmaker[AsyncSession], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real_verify = services.verify_password_off_loop

    async def slow_verify(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        await asyncio.sleep(0.05)  # every guess is in flight at once
        return await real_verify(password_hash, password)

    monkeypatch.setattr(services, "verify_password_off_loop", slow_verify)
    email = "cible@exemple.fr"

    async def guess(number: int) -> int:
        async with committed() as session:
            return await _try(session, settings, email, f"devine-{number:08d}", ROBOT)

    statuses = await asyncio.gather(*(guess(number) for number in range(8)))
    assert sorted(statuses) == [401] * 5 + [429] * 3
    assert len(checked) == settings.login_max_failures  # three passwords never checked
    async with committed() as session:
        failures = await session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == email)
        )
        counted = await session.scalar(
            select(SignInCounter.attempts).where(SignInCounter.key == throttle.pair_key(email, ROBOT))
        )
    assert (failures, counted) == (5, 5)


async def test_an_over_long_email_is_refused_before_any_work(
    client: Client, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    async def verify(_password_hash: str | None, password: str) -> bool:
        checked.append(password)
        return False

    monkeypatch.setattr(services, "verify_password_off_loop", verify)
    # 320 characters as typed, 640 once lower-cased ("İ" becomes "i̇"): more than an address may hold.
    for email in ("İ" * 320, "a" * 310 + "@exemple.fr"):
        token = await csrf_token(client)
        response = await client.post("/connexion", data={"email": email, "password": "x", "_csrf_token": token})
        assert response.status_code == 422, len(email)
        assert "trop long" in response.text or "ne peut pas dépasser" in response.text
    assert checked == []
    assert await db_session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    assert await db_session.scalar(select(func.count()).select_from(SignInCounter)) == 0
