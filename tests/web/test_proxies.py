"""Who a request comes from: X-Forwarded-For counts only from the proxies PORTAL_TRUSTED_PROXIES lists."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import cli
from portal.accounts.models import LoginAttempt
from portal.app import create_app
from portal.db import migrate
from portal.jobs.runtime import Runtime
from portal.settings import Settings, load_settings
from portal.web.context import forwarded_client
from tests.browsing import serve_in_process, sign_in

TRUSTED = ("10.0.0.0/8", "::1/128")


@pytest.mark.parametrize(
    ("peer", "forwarded", "seen"),
    [
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),  # not a proxy: its header is anyone's
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["6.6.6.6, 203.0.113.9, 10.0.0.3"], "203.0.113.9"),  # what the client wrote is ignored
        ("10.0.0.2", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),  # the header sent twice
        ("10.0.0.2", ["pas-une-adresse"], "10.0.0.2"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("::1", ["2001:db8::5"], "2001:db8::5"),
        ("::ffff:10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("x" * 300, ["203.0.113.9"], "x" * 64),
    ],
)
def test_forwarded_for_is_read_from_trusted_proxies_only(peer: str, forwarded: list[str], seen: str) -> None:
    assert forwarded_client(peer, forwarded, TRUSTED) == seen


def test_no_proxy_is_trusted_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_TRUSTED_PROXIES", raising=False)
    assert load_settings().trusted_proxies == ()
    assert forwarded_client("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", " 10.0.0.5, 172.16.0.0/12 ,")
    assert load_settings().trusted_proxies == ("10.0.0.5/32", "172.16.0.0/12")
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", "proxy.local")
    with pytest.raises(ValueError, match="PORTAL_TRUSTED_PROXIES"):
        load_settings()


async def _attempt_address(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], db_session: AsyncSession
) -> str:
    app = create_app(
        settings, session_maker=session_maker, background=False, embedded_worker=False, migrate_on_start=False
    )
    async with serve_in_process(app) as client:  # the peer is 127.0.0.1
        client.headers["X-Forwarded-For"] = "203.0.113.9"
        response = await sign_in(client, "personne@exemple.fr", "mauvais-mot-de-passe")
        assert response.status_code == 401
    attempts = await db_session.execute(
        select(LoginAttempt.ip_address).where(LoginAttempt.email == "personne@exemple.fr")
    )
    return str(attempts.scalars().all()[-1])


async def test_sign_in_attempts_record_the_forwarded_address_only_from_a_trusted_proxy(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], db_session: AsyncSession, jobs: Runtime
) -> None:
    assert await _attempt_address(settings, session_maker, db_session) == "127.0.0.1"  # loopback is not trusted
    behind_proxy = settings.with_overrides(trusted_proxies=("127.0.0.1/32",))
    assert await _attempt_address(behind_proxy, session_maker, db_session) == "203.0.113.9"


def test_portal_run_leaves_proxy_headers_to_the_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(migrate, "upgrade", lambda *_args, **_kwargs: None)
    monkeypatch.setattr("uvicorn.run", lambda *_args, **kwargs: served.update(kwargs))
    result = CliRunner().invoke(cli.main, ["run", "--port", "8765"])
    assert result.exit_code == 0, result.output
    assert served["proxy_headers"] is False  # uvicorn would believe X-Forwarded-For from anyone on this host
