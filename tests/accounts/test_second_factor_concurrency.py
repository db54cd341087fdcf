"""One code sent twice at once signs in once: the database decides, not the process."""

from __future__ import annotations

import asyncio
import datetime as dt

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.accounts.models import RecoveryCode, User
from portal.accounts.second_factor import Outcome, SecondFactorService
from portal.auth.roles import FirmRole
from tests.factories.firm import make_user


async def _enrolled(committed: async_sessionmaker[AsyncSession]) -> tuple[User, str, list[str]]:
    async with committed() as session, session.begin():
        user = await make_user(session, roles=(FirmRole.PARTNER,), email="claire@cabinet-test.fr")
        service = SecondFactorService(session)
        enrolment = await service.start(user)
        assert enrolment is not None
        # Confirmed with the code of two steps ago, so that the current one is still unused.
        a_step_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
        codes = await service.confirm(user, pyotp.TOTP(enrolment.secret).at(a_step_ago), now=a_step_ago)
        assert codes is not None
        return user, enrolment.secret, codes


async def _check_in_own_transaction(committed: async_sessionmaker[AsyncSession], user: User, code: str) -> Outcome:
    async with committed() as session, session.begin():
        return await SecondFactorService(session).check(user, code)


async def test_one_code_sent_twice_at_once_passes_once(committed: async_sessionmaker[AsyncSession]) -> None:
    user, secret, _codes = await _enrolled(committed)
    code = pyotp.TOTP(secret).now()
    outcomes = await asyncio.gather(*(_check_in_own_transaction(committed, user, code) for _ in range(4)))
    assert sorted(outcomes) == sorted([Outcome.TOTP, Outcome.REUSED, Outcome.REUSED, Outcome.REUSED])


async def test_one_recovery_code_sent_twice_at_once_is_spent_once(committed: async_sessionmaker[AsyncSession]) -> None:
    user, _secret, codes = await _enrolled(committed)
    outcomes = await asyncio.gather(*(_check_in_own_transaction(committed, user, codes[0]) for _ in range(4)))
    assert outcomes.count(Outcome.RECOVERY) == 1
    assert outcomes.count(Outcome.WRONG) == 3
    async with committed() as session:
        spent = (await session.execute(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None)))).scalars().all()
    assert len(spent) == 1
