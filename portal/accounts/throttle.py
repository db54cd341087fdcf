"""Sign-in throttling: per (account, address) pair, and per address, counted in one statement.

An attempt first *reserves* its place: one upsert adds one to the pair's counter and to the
address's, each only while it is under its limit (``INSERT … ON CONFLICT DO UPDATE … WHERE
attempts < limit RETURNING``, on SQLite and PostgreSQL alike). No row back: the limit is
reached, the attempt is refused (429) without checking the password. Concurrent attempts queue
on the counter's row (PostgreSQL) or the write lock (SQLite), so eight wrong guesses at once
against a limit of five check five passwords and refuse three. The reservations are committed
before the password is checked; a right password gives them back (the pair's counter is
forgotten, the address's goes down by one), a wrong one keeps them.

This slows a guesser down without locking anyone out: the pair is refused for a while (the
window at first, then twice as long each time the limit is reached again, up to a day), and an
address for longer only after ``ADDRESS_FACTOR`` times as many attempts on any accounts. A person
typing the right password from an address that has not failed is never refused, whatever a
robot elsewhere does to their account.

Counting in the database (not in process memory) keeps the limit right when the web tier runs
several processes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import LoginAttempt, SignInCounter

# An address may try several accounts (a shared office connection), so it gets more room.
ADDRESS_FACTOR = 4
# The longest a refusal lasts, however often the limit is reached; after as long without a
# refusal, the next one lasts the window again.
MAX_PENALTY_SECONDS = 24 * 3600
PAIR, ADDRESS = "pair", "address"
_TABLE = cast("Table", SignInCounter.__table__)


@dataclass(frozen=True)
class Refusal:
    """The limit is reached; the count starts again in ``seconds``."""

    seconds: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


def pair_key(email: str, ip_address: str) -> str:
    return f"{email}|{ip_address}"


class LoginThrottle:
    def __init__(self, session: AsyncSession, *, max_failures: int, window_seconds: int) -> None:
        self.session = session
        self.max_failures = max(1, max_failures)
        self.window = max(1, window_seconds)

    async def reserve(self, email: str, ip_address: str) -> Refusal | None:
        """Count one attempt for the address and for the pair; the refusal when either is at its limit.

        Nothing is committed here: a refused attempt rolls its reservations back with the request.
        """
        now = int(time.time())
        refused = await self._count(ADDRESS, ip_address, self.max_failures * ADDRESS_FACTOR, now)
        if refused is None:
            refused = await self._count(PAIR, pair_key(email, ip_address), self.max_failures, now)
        return refused

    async def succeeded(self, email: str, ip_address: str) -> None:
        """The right password: the pair's count is forgotten, and the address gets its place back."""
        table = _TABLE
        await self.session.execute(
            delete(table).where(table.c.scope == PAIR, table.c.key == pair_key(email, ip_address))
        )
        await self.session.execute(
            update(table)
            .where(table.c.scope == ADDRESS, table.c.key == ip_address, table.c.attempts > 0)
            .values(attempts=table.c.attempts - 1)
        )

    async def record(self, email: str, ip_address: str, *, succeeded: bool) -> None:
        """Keep the attempt in the history (``login_attempt``, purged after a week)."""
        self.session.add(LoginAttempt(email=email, ip_address=ip_address, succeeded=succeeded))
        await self.session.flush()

    async def _count(self, scope: str, key: str, limit: int, now: int) -> Refusal | None:
        """One statement: add one to the counter unless it is at ``limit`` within its window."""
        table = _TABLE
        counter = table.c
        window = self.window
        fresh = counter.reset_at <= now  # the window (or the refusal) is over: counting starts again
        attempts = case((fresh, 1), else_=counter.attempts + 1)
        reaching: ColumnElement[bool] = attempts >= limit
        # Long quiet since the last refusal: the next one lasts the window again.
        penalty = case((counter.reset_at <= now - MAX_PENALTY_SECONDS, window), else_=counter.penalty_seconds)
        doubled = case((penalty * 2 > MAX_PENALTY_SECONDS, MAX_PENALTY_SECONDS), else_=penalty * 2)
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(table)
            .values(scope=scope, key=key, attempts=1, reset_at=now + window, penalty_seconds=window)
            .on_conflict_do_update(
                index_elements=[counter.scope, counter.key],
                set_={
                    "attempts": attempts,
                    "reset_at": case((reaching, literal(now) + penalty), (fresh, now + window), else_=counter.reset_at),
                    "penalty_seconds": case((reaching, doubled), else_=penalty),
                },
                where=or_(fresh, counter.attempts < limit),
            )
            .returning(counter.attempts)
        )
        if (await self.session.execute(statement)).first() is not None:
            return None
        reset_at = (
            await self.session.execute(select(counter.reset_at).where(and_(counter.scope == scope, counter.key == key)))
        ).scalar_one()
        return Refusal(seconds=max(0, int(reset_at) - now))
