"""Sign-in throttling: per (account, address) pair, and per address, counted in one statement.

An attempt first *reserves* its place: one upsert adds one to the address's counter and to the
pair's, each only while it is under its limit (``INSERT … ON CONFLICT DO UPDATE … WHERE
attempts < limit RETURNING``, on SQLite and PostgreSQL alike), and the reservations are committed
before the password is checked. So at most ``limit`` passwords of a pair are ever being checked
or wrong at once: eight wrong guesses sent together against a limit of five check five passwords
and refuse three. Concurrent attempts queue on the counter's row (PostgreSQL) or the write lock
(SQLite). A right password gives the places back (the pair's counter is forgotten, the address's
goes down by one); a wrong one keeps its place and counts as a failure.

No place left: if that many attempts *failed*, the attempt is refused (429) without its password
being checked, for a while that grows (the window at first, then twice as long each time the
limit is reached again, up to a day). If the places are only taken by attempts still being
checked (a burst of sign-ins), it waits a little for them and tries again. An address gets
``ADDRESS_FACTOR`` times the room, across accounts. This slows a guesser down without locking
anyone out: the right password from an address that has not failed is never refused, whatever a
robot elsewhere does to the account.

Counting in the database (not in process memory) keeps the limit right when the web tier runs
several processes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, case, delete, literal, or_, select, update
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
    """No place left: ``busy`` when the places are taken by attempts still being checked, else the
    limit of failures is reached and the count starts again in ``seconds``."""

    seconds: int
    busy: bool = False

    @property
    def minutes(self) -> int:
        """When to try again, in minutes (a burst that never cleared: in a minute)."""
        return 1 if self.busy else max(1, math.ceil(self.seconds / 60))


def pair_key(email: str, ip_address: str) -> str:
    return f"{email}|{ip_address}"


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class LoginThrottle:
    def __init__(self, session: AsyncSession, *, max_failures: int, window_seconds: int) -> None:
        self.session = session
        self.max_failures = max(1, max_failures)
        self.window = max(1, window_seconds)

    def _scopes(self, email: str, ip_address: str) -> tuple[tuple[str, str, int], ...]:
        """(scope, key, limit) of the address's counter, then the pair's."""
        return (
            (ADDRESS, ip_address, self.max_failures * ADDRESS_FACTOR),
            (PAIR, pair_key(email, ip_address), self.max_failures),
        )

    async def reserve(self, email: str, ip_address: str) -> Refusal | None:
        """Take one place in the address's counter and in the pair's; the refusal when either is full.

        Nothing is committed here: a refused attempt rolls its reservations back.
        """
        now = int(time.time())
        for scope, key, limit in self._scopes(email, ip_address):
            refused = await self._take(scope, key, limit, now)
            if refused is not None:
                return refused
        return None

    async def failed(self, email: str, ip_address: str) -> None:
        """A wrong password: its places stay taken, and count as failures. At the limit, the counter
        refuses until the penalty is over, and the next penalty is twice as long."""
        now = int(time.time())
        counter = _TABLE.c
        for scope, key, limit in self._scopes(email, ip_address):
            reaching = counter.failures + 1 >= limit
            doubled = case(
                (counter.penalty_seconds * 2 > MAX_PENALTY_SECONDS, MAX_PENALTY_SECONDS),
                else_=counter.penalty_seconds * 2,
            )
            await self.session.execute(
                update(_TABLE)
                .where(counter.scope == scope, counter.key == key)
                .values(
                    failures=counter.failures + 1,
                    reset_at=case((reaching, literal(now) + counter.penalty_seconds), else_=counter.reset_at),
                    penalty_seconds=case((reaching, doubled), else_=counter.penalty_seconds),
                )
            )

    async def succeeded(self, email: str, ip_address: str) -> None:
        """The right password: the pair's count is forgotten, and the address gets its place back."""
        counter = _TABLE.c
        # The address's row first, then the pair's, as ``reserve`` takes them: no two attempts wait on each other.
        await self.session.execute(
            update(_TABLE)
            .where(counter.scope == ADDRESS, counter.key == ip_address, counter.attempts > 0)
            .values(attempts=counter.attempts - 1)
        )
        await self.session.execute(
            delete(_TABLE).where(counter.scope == PAIR, counter.key == pair_key(email, ip_address))
        )

    async def record(self, email: str, ip_address: str, *, succeeded: bool) -> None:
        """Keep the attempt in the history (``login_attempt``, purged after a week)."""
        self.session.add(LoginAttempt(email=email, ip_address=ip_address, succeeded=succeeded))
        await self.session.flush()

    async def _take(self, scope: str, key: str, limit: int, now: int) -> Refusal | None:
        """One statement: take a place in the counter unless it is full within its window."""
        counter = _TABLE.c
        window = self.window
        fresh = counter.reset_at <= now  # the window (or the penalty) is over: counting starts again
        statement = (
            _insert(self.session)(_TABLE)
            .values(scope=scope, key=key, attempts=1, failures=0, reset_at=now + window, penalty_seconds=window)
            .on_conflict_do_update(
                index_elements=[counter.scope, counter.key],
                set_={
                    "attempts": case((fresh, 1), else_=counter.attempts + 1),
                    "failures": case((fresh, 0), else_=counter.failures),
                    "reset_at": case((fresh, now + window), else_=counter.reset_at),
                    # Long quiet since the last penalty: the next one lasts the window again.
                    "penalty_seconds": case(
                        (counter.reset_at <= now - MAX_PENALTY_SECONDS, window), else_=counter.penalty_seconds
                    ),
                },
                where=or_(fresh, and_(counter.attempts < limit, counter.failures < limit)),
            )
            .returning(counter.attempts)
        )
        if (await self.session.execute(statement)).first() is not None:
            return None
        failures, reset_at = (
            await self.session.execute(
                select(counter.failures, counter.reset_at).where(counter.scope == scope, counter.key == key)
            )
        ).one()
        return Refusal(seconds=max(0, int(reset_at) - now), busy=failures < limit)
