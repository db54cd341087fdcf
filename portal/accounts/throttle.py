"""Sign-in throttling, per account and per address, counted in the database.

Counting in the database (not in process memory) keeps the limit right when the web
tier runs several processes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from portal.accounts.models import LoginAttempt

# An address may try several accounts (a shared office connection), so it gets more room.
ADDRESS_FACTOR = 4


class LoginThrottle:
    def __init__(self, session: AsyncSession, *, max_failures: int, window_seconds: int) -> None:
        self.session = session
        self.max_failures = max_failures
        self.window = dt.timedelta(seconds=window_seconds)

    async def _failures_since(self, column: InstrumentedAttribute[str], value: str, since: dt.datetime) -> int:
        statement = select(func.count()).where(
            column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= since
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def is_locked(self, email: str, ip_address: str) -> bool:
        now = dt.datetime.now(dt.UTC)
        since = now - self.window
        last_success = (
            await self.session.execute(
                select(func.max(LoginAttempt.created_at)).where(
                    LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
                )
            )
        ).scalar_one()
        email_since = max(since, last_success) if last_success else since
        if await self._failures_since(LoginAttempt.email, email, email_since) >= self.max_failures:
            return True
        address_failures = await self._failures_since(LoginAttempt.ip_address, ip_address, since)
        return address_failures >= self.max_failures * ADDRESS_FACTOR

    async def record(self, email: str, ip_address: str, *, succeeded: bool) -> None:
        self.session.add(LoginAttempt(email=email, ip_address=ip_address, succeeded=succeeded))
        await self.session.flush()
