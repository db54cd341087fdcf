"""Many clients at once on one web process: slow answers at worst, never an error, and no
connection left behind (the request's database session and the session store never share a pool)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher
from litestar.exceptions import LitestarException
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.accounts import passwords
from portal.accounts.models import User
from portal.app import create_app
from portal.auth.roles import FirmRole
from portal.db import engine as db_engine
from portal.settings import Settings
from tests.browsing import CSRF_FIELD, csrf_token, loopback_listener, serve_in_process, sign_in
from tests.factories.firm import PASSWORD, make_user

CLIENTS = 64
# Bounds, not expectations: a jammed process is reported instead of hanging the run.
ANSWER_TIMEOUT = httpx.Timeout(120)
START_TIMEOUT_SECONDS = 60
# uvicorn serving the portal as production does (``uvicorn --factory portal.app:create_app``), on a
# socket this test bound, so no other process can take the port in between.
SERVE = (
    "import socket, sys, uvicorn; "
    "listener = socket.socket(fileno=int(sys.argv[1])); "
    "uvicorn.Server(uvicorn.Config('portal.app:create_app', factory=True, log_level='warning')).run(sockets=[listener])"
)


@asynccontextmanager
async def uvicorn_process() -> AsyncIterator[str]:
    """One uvicorn process serving the portal on the test database; its base URL."""
    async with loopback_listener() as (listener, base):
        listener.listen(128)
        # The clients below say where they come from, as a reverse proxy on this host would.
        environment = {**os.environ, "PORTAL_BASE_URL": base, "PORTAL_TRUSTED_PROXIES": "127.0.0.1"}
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped below by its id
            [sys.executable, "-c", SERVE, str(listener.fileno())], env=environment, pass_fds=[listener.fileno()]
        )
        try:
            await _wait_until_up(process, base)
            yield base
        finally:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


async def _wait_until_up(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=base) as client:
        while asyncio.get_running_loop().time() < deadline:
            assert process.poll() is None, "uvicorn stopped at start-up"
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"uvicorn did not answer within {START_TIMEOUT_SECONDS}s")


async def _transactions_left_open(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
            )
        )
    return int(found or 0)


async def test_one_web_process_serves_64_clients_at_once_and_recovers_at_once(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine, settings: Settings
) -> None:
    async with committed() as session, session.begin():
        user = await make_user(session, roles=(FirmRole.PARTNER,))
        # Hashed as production hashes, so that no sign-in below rewrites it.
        user.password_hash = PasswordHasher().hash(PASSWORD)
    async with uvicorn_process() as base:
        async with httpx.AsyncClient(base_url=base, timeout=ANSWER_TIMEOUT) as signed_in:
            assert (await sign_in(signed_in, user.email, PASSWORD)).status_code == 303
            # Half the clients sign in to the same account, half read a page, all at once. Each visitor comes
            # from an address of its own: from one address, so many sign-ins at once would be throttled.
            visitors = [
                httpx.AsyncClient(
                    base_url=base, timeout=ANSWER_TIMEOUT, headers={"X-Forwarded-For": f"198.51.100.{number + 1}"}
                )
                for number in range(CLIENTS // 2)
            ]
            readers = [
                httpx.AsyncClient(base_url=base, timeout=ANSWER_TIMEOUT, cookies=signed_in.cookies)
                for _ in range(CLIENTS // 2)
            ]
            try:
                forms = await asyncio.gather(*(visitor.get("/connexion") for visitor in visitors))
                tokens = [CSRF_FIELD.search(form.text).group(1) for form in forms]  # type: ignore[union-attr]
                answers = await asyncio.gather(
                    *(
                        visitor.post(
                            "/connexion", data={"email": user.email, "password": PASSWORD, "_csrf_token": token}
                        )
                        for visitor, token in zip(visitors, tokens, strict=True)
                    ),
                    *(reader.get("/entreprises") for reader in readers),
                )
            finally:
                for client in (*visitors, *readers):
                    await client.aclose()
            sign_ins = Counter(answer.status_code for answer in answers[: CLIENTS // 2])
            pages = Counter(answer.status_code for answer in answers[CLIENTS // 2 :])
            assert sign_ins == {303: CLIENTS // 2}
            assert pages == {200: CLIENTS // 2}
            # Served normally the moment the load stops.
            after = httpx.Timeout(10)
            assert (await signed_in.get("/entreprises", timeout=after)).status_code == 200
            assert (await signed_in.get("/connexion", timeout=after, follow_redirects=False)).status_code in {302, 303}
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10)) as anonymous:
            assert (await anonymous.get("/connexion")).status_code == 200
        if not settings.is_sqlite:
            assert await _transactions_left_open(engine) == 0


async def test_an_error_while_saving_the_session_still_returns_the_requests_connection(
    committed: async_sessionmaker[AsyncSession], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session is saved inside the session middleware's send wrapper, before the request's own
    commit-and-close hook runs: a failure there (a store timeout) must not keep the connection."""
    async with committed() as session, session.begin():
        user = await make_user(session)
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client:
        assert (await sign_in(client, user.email, PASSWORD)).status_code == 303
        request_engine: AsyncEngine = app.state[app.state["session_maker_key"]].kw["bind"]
        store = app.stores.get("sessions")

        async def store_times_out(*_args: object, **_kwargs: object) -> None:
            raise TimeoutError

        with monkeypatch.context() as patch:
            patch.setattr(type(store), "set", store_times_out)
            with pytest.raises(LitestarException):
                await client.get("/entreprises")
        assert request_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert (await client.get("/entreprises")).status_code == 200


async def test_a_request_stuck_behind_a_held_lock_gives_up_with_a_503(
    committed: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stalled transaction holding a row lock (SQLite: the write lock) makes the next request wait a
    bounded time, then answer "try again", instead of queueing every later request behind it."""
    async with committed() as session, session.begin():
        user = await make_user(session)
    monkeypatch.setattr(db_engine, "LOCK_TIMEOUT_MS", 300)
    monkeypatch.setattr(db_engine, "SQLITE_BUSY_TIMEOUT_MS", 300)
    app = create_app(settings, background=False, embedded_worker=False, migrate_on_start=False)
    async with serve_in_process(app) as client, engine.connect() as stalled:
        token = await csrf_token(client)
        await stalled.begin()
        await stalled.execute(select(User).where(User.id == user.id).with_for_update())
        try:
            answer = await asyncio.wait_for(
                client.post("/connexion", data={"email": user.email, "password": PASSWORD, "_csrf_token": token}),
                timeout=60,
            )
        finally:
            await stalled.rollback()
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert "Portail très sollicité" in answer.text
        assert (await sign_in(client, user.email, PASSWORD)).status_code == 303


async def test_the_process_keeps_serving_while_a_password_is_checked(
    client: httpx.AsyncClient, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2id takes tenths of a second by design: checked in the event loop, a burst of sign-ins
    would stall every request of the process."""
    user = await make_user(db_session)
    checking, released = threading.Event(), threading.Event()
    gave_up = []

    class SlowHasher(PasswordHasher):
        def verify(self, password_hash: str | bytes, password: str | bytes) -> Literal[True]:
            checking.set()
            gave_up.append(not released.wait(timeout=10))  # bounded: a blocked event loop cannot release it
            return super().verify(password_hash, password)

    monkeypatch.setattr(passwords, "_hasher", SlowHasher(time_cost=1, memory_cost=8, parallelism=1))
    token = await csrf_token(client)
    signing_in = asyncio.create_task(
        client.post("/connexion", data={"email": user.email, "password": PASSWORD, "_csrf_token": token})
    )
    await asyncio.to_thread(checking.wait, 10)
    assert (await client.get("/healthz")).status_code == 200  # answered while the password is being checked
    released.set()
    assert (await signing_in).status_code == 303
    assert gave_up == [False]
