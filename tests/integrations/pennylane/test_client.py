"""The portal's Pennylane client against the sandbox, over real HTTP."""

from __future__ import annotations

import datetime as dt
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portal.integrations.pennylane import (
    SCOPES,
    AuthorizationError,
    AuthorizationLost,
    FiscalYearInfo,
    MissingScope,
    PennylaneClient,
    PennylaneEndpoints,
    PennylaneError,
    finish_authorization,
    start_authorization,
)
from portal.sandbox.oauth_server import s256
from portal.sandbox.pennylane import SandboxState
from portal.sandbox.pennylane.data import FEC_HEADER
from portal.sandbox.pennylane.state import digest
from portal.settings import SANDBOX_CLIENT_ID, Settings
from tests.pennylane_consent import REDIRECT_URI, connect, consent


class Saved:
    """An ``on_token`` that keeps what it is given, as the portal persists it."""

    def __init__(self) -> None:
        self.tokens: list[dict[str, Any]] = []

    async def __call__(self, token: dict[str, Any]) -> None:
        self.tokens.append(token)


def test_endpoints_follow_the_settings(pennylane_settings: Settings) -> None:
    endpoints = PennylaneEndpoints.from_settings(pennylane_settings)
    assert endpoints.authorize_url == f"{pennylane_settings.pennylane_oauth_url}/authorize"
    assert endpoints.token_url.endswith("/sandbox/pennylane/oauth/token")
    assert endpoints.revoke_url.endswith("/sandbox/pennylane/oauth/revoke")
    assert endpoints.api_url.endswith("/sandbox/pennylane/api/external/v2")


async def test_authorization_code_flow_with_pkce(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    start = start_authorization(pennylane_settings, REDIRECT_URI)
    asked = {key: values[-1] for key, values in parse_qs(urlsplit(start.url).query).items()}
    assert asked["client_id"] == SANDBOX_CLIENT_ID
    assert asked["scope"].split() == list(SCOPES)
    assert asked["state"] == start.state
    assert asked["code_challenge_method"] == "S256"
    assert asked["code_challenge"] == s256(start.code_verifier)
    assert start.state != start_authorization(pennylane_settings, REDIRECT_URI).state

    token = await connect(pennylane_settings, company="Garage du Centre")
    assert {"access_token", "refresh_token", "expires_at", "scope"} <= set(token)
    assert token["expires_at"] == pytest.approx(time.time() + 86_400, abs=5)
    assert set(token["scope"].split()) == set(SCOPES)
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        years = await pennylane.fiscal_years()
    garage = sandbox.companies[1]
    assert [FiscalYearInfo(year.id, year.start, year.finish, year.status) for year in years] == [
        FiscalYearInfo(year.id, year.start, year.finish, year.status) for year in garage.fiscal_years
    ]
    # When each year last changed (the 2026 behaviour): a closed year at its closing, the open one lately.
    assert years[0].updated_at == dt.datetime.combine(years[0].finish + dt.timedelta(days=90), dt.time(18), dt.UTC)
    assert years[-1].is_open
    assert years[-1].updated_at is not None
    assert dt.datetime.now(dt.UTC) - years[-1].updated_at < dt.timedelta(minutes=1)


async def test_a_wrong_state_is_refused(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    start, callback = await consent(pennylane_settings)
    with pytest.raises(AuthorizationError) as refused:
        await finish_authorization(
            pennylane_settings,
            redirect_uri=REDIRECT_URI,
            authorization_response=callback,
            expected_state=start.state + "x",
            code_verifier=start.code_verifier,
        )
    assert "ne correspond pas à cette demande" in refused.value.message
    assert sandbox.counters["grants"] == 0


async def test_refusal_and_spent_code_are_authorization_errors(pennylane_settings: Settings) -> None:
    start, denied = await consent(pennylane_settings, decision="deny")
    with pytest.raises(AuthorizationError) as refused:
        await finish_authorization(
            pennylane_settings,
            redirect_uri=REDIRECT_URI,
            authorization_response=denied,
            expected_state=start.state,
            code_verifier=start.code_verifier,
        )
    assert refused.value.message == "L'accès a été refusé sur Pennylane : la connexion n'a pas été faite."

    start, callback = await consent(pennylane_settings)
    finish = {"redirect_uri": REDIRECT_URI, "authorization_response": callback, "expected_state": start.state}
    with pytest.raises(AuthorizationError, match="invalid_grant"):
        await finish_authorization(pennylane_settings, **finish, code_verifier="v" * 64)
    # The code was spent by that failed attempt: the right verifier comes too late.
    with pytest.raises(AuthorizationError, match="invalid_grant"):
        await finish_authorization(pennylane_settings, **finish, code_verifier=start.code_verifier)


async def test_a_code_works_once(pennylane_settings: Settings) -> None:
    start, callback = await consent(pennylane_settings)
    finish = {
        "redirect_uri": REDIRECT_URI,
        "authorization_response": callback,
        "expected_state": start.state,
        "code_verifier": start.code_verifier,
    }
    token = await finish_authorization(pennylane_settings, **finish)
    with pytest.raises(AuthorizationError):
        await finish_authorization(pennylane_settings, **finish)
    # A replayed code also revokes what it gave the first time.
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        with pytest.raises(AuthorizationLost):
            await pennylane.fiscal_years()


async def test_expiring_token_is_refreshed_before_use_and_rotates(
    pennylane_settings: Settings, sandbox: SandboxState
) -> None:
    sandbox.access_token_seconds = 30  # within authlib's leeway: due for refresh at once
    token = await connect(pennylane_settings)
    sandbox.access_token_seconds = 86_400
    saved = Saved()
    async with PennylaneClient(pennylane_settings, token=token, on_token=saved) as pennylane:
        assert len(await pennylane.fiscal_years()) == 4
        assert len(await pennylane.fiscal_years()) == 4
        assert pennylane.token == saved.tokens[-1]
    (new,) = saved.tokens
    assert new["refresh_token"] != token["refresh_token"]
    assert new["access_token"] != token["access_token"]
    assert new["expires_at"] > token["expires_at"]
    assert sandbox.counters["refreshes"] == 1
    # The old pair is dead: whoever still holds it has lost the authorization.
    async with PennylaneClient(pennylane_settings, token=token) as stale:
        with pytest.raises(AuthorizationLost):
            await stale.fiscal_years()


async def test_token_expired_early_on_pennylanes_side_is_refreshed_transparently(
    pennylane_settings: Settings, sandbox: SandboxState
) -> None:
    token = await connect(pennylane_settings)
    sandbox.expire_access_tokens()  # the stored expires_at still says a day
    saved = Saved()
    async with PennylaneClient(pennylane_settings, token=token, on_token=saved) as pennylane:
        years = await pennylane.fiscal_years()
    assert len(years) == 4
    assert len(saved.tokens) == 1
    assert sandbox.counters["refreshes"] == 1


async def test_revoked_authorization_is_lost(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    token = await connect(pennylane_settings)
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        await pennylane.revoke()
    assert sandbox.counters["revocations"] == 1
    saved = Saved()
    async with PennylaneClient(pennylane_settings, token=token, on_token=saved) as pennylane:
        with pytest.raises(AuthorizationLost) as lost:
            await pennylane.fiscal_years()
    assert lost.value.message == "L'autorisation Pennylane a expiré ou a été révoquée : reconnectez Pennylane."
    assert saved.tokens == []


async def test_refresh_refused_is_authorization_lost(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    sandbox.access_token_seconds = 30
    token = await connect(pennylane_settings)
    sandbox.refresh_token_seconds = 0
    for grant in sandbox.grants.values():
        grant.refresh_expires_at = 0
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        with pytest.raises(AuthorizationLost, match="invalid_grant"):
            await pennylane.fiscal_years()


async def test_missing_scope_is_an_error(pennylane_settings: Settings, sandbox: SandboxState, tmp_path: Path) -> None:
    token, _ = sandbox.create_api_token(
        name="exercices seulement",
        company_id=sandbox.companies[0].id,
        scopes=frozenset({"fiscal_years:readonly"}),
        lifetime_days=None,
    )
    async with PennylaneClient(pennylane_settings, api_token=token) as pennylane:
        assert len(await pennylane.fiscal_years()) == 4
        with pytest.raises(MissingScope) as refused:
            await pennylane.download_fec(date(2024, 1, 1), date(2024, 12, 31), tmp_path / "fec.txt")
    assert refused.value.status == 403
    assert not (tmp_path / "fec.txt").exists()


async def test_fiscal_years_follow_every_page(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    sandbox.max_page_size = 1
    token = await connect(pennylane_settings, company="Restaurant Le Cèdre")
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        years = await pennylane.fiscal_years()
    assert [(year.start, year.finish, year.status) for year in years] == [
        (date(2023, 1, 1), date(2023, 12, 31), "closed"),
        (date(2024, 1, 1), date(2024, 12, 31), "closed"),
        (date(2025, 1, 1), date(2025, 12, 31), "frozen"),
        (date(2026, 1, 1), date(2026, 12, 31), "open"),
    ]
    assert sandbox.counters["api_requests"] == 4


async def test_fec_export_pending_then_ready_then_downloaded(
    pennylane_settings: Settings, sandbox: SandboxState, tmp_path: Path
) -> None:
    sandbox.export_polls_before_ready = 3
    token = await connect(pennylane_settings)
    destination = tmp_path / "imports" / "boulangerie-2024.txt"
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        written = await pennylane.download_fec(date(2024, 1, 1), date(2024, 12, 31), destination)
    assert written == destination
    lines = destination.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == list(FEC_HEADER)
    assert len(lines) > 300
    assert all(line.split("\t")[3].startswith("2024") for line in lines[1:])
    (export,) = sandbox.exports.values()
    assert (export.status, export.polls) == ("ready", 3)
    assert sandbox.counters["downloads"] == 1
    assert sandbox.counters["file_url_with_credentials"] == 0
    assert sorted(path.name for path in destination.parent.iterdir()) == [destination.name]


async def test_expired_file_link_is_refused(
    pennylane_settings: Settings, sandbox: SandboxState, tmp_path: Path
) -> None:
    sandbox.file_link_seconds = 0
    token = await connect(pennylane_settings)
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        with pytest.raises(PennylaneError) as refused:
            await pennylane.download_fec(date(2024, 1, 1), date(2024, 12, 31), tmp_path / "fec.txt")
    assert refused.value.status == 410
    assert "a expiré" in refused.value.message
    assert not (tmp_path / "fec.txt").exists()


async def test_export_never_ready_times_out(
    pennylane_settings: Settings, sandbox: SandboxState, tmp_path: Path
) -> None:
    sandbox.export_polls_before_ready = 10_000
    settings = pennylane_settings.with_overrides(pennylane_export_timeout_seconds=0.3)
    token = await connect(settings)
    async with PennylaneClient(settings, token=token) as pennylane:
        with pytest.raises(PennylaneError, match="pas prêt dans le délai"):
            await pennylane.download_fec(date(2024, 1, 1), date(2024, 12, 31), tmp_path / "fec.txt")


async def test_429_is_waited_out_and_the_call_succeeds(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    sandbox.rate_limit = 3
    # Long enough that the window cannot close between the spending below and the client's first
    # call, however busy the machine: the client must meet the 429 and wait it out.
    sandbox.rate_window_seconds = 2
    token = await connect(pennylane_settings)
    # Someone else spends the token's budget (another worker): the client sees only the 429.
    async with httpx.AsyncClient() as other:
        for _ in range(3):
            spent = await other.get(
                f"{pennylane_settings.pennylane_api_url}/fiscal_years",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
    assert spent.headers["ratelimit-remaining"] == "0"
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        years = await pennylane.fiscal_years()
    assert len(years) == 4
    assert sandbox.counters["rate_limited"] >= 1


async def test_the_client_slows_down_when_the_budget_is_spent(
    pennylane_settings: Settings, sandbox: SandboxState
) -> None:
    sandbox.rate_limit = 3
    sandbox.rate_window_seconds = 0.1
    sandbox.max_page_size = 1
    token = await connect(pennylane_settings)
    async with PennylaneClient(pennylane_settings, token=token) as pennylane:
        years = await pennylane.fiscal_years()
    assert len(years) == 4
    assert sandbox.counters["rate_limited"] == 0


async def test_too_many_429_gives_up(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    sandbox.rate_limit = 0
    token = await connect(pennylane_settings)
    async with PennylaneClient(pennylane_settings, token=token, max_retries_on_429=0) as pennylane:
        with pytest.raises(PennylaneError) as limited:
            await pennylane.fiscal_years()
    assert limited.value.status == 429


async def test_personal_token_works_and_only_its_hash_is_kept(
    pennylane_settings: Settings, sandbox: SandboxState, tmp_path: Path
) -> None:
    token, record = sandbox.create_api_token(
        name="Portail Cabinet",
        company_id=sandbox.companies[2].id,
        scopes=frozenset(SCOPES),
        lifetime_days=90,
    )
    assert record.key == digest(token)
    assert token not in repr(sandbox)
    async with PennylaneClient(pennylane_settings, api_token=token) as pennylane:
        assert pennylane.token is None
        years = await pennylane.fiscal_years()
        path = await pennylane.download_fec(date(2025, 1, 1), date(2025, 3, 31), tmp_path / "fec.txt")
        await pennylane.revoke()  # nothing to call: the owner deletes it in Pennylane
    assert [year.status for year in years] == ["closed", "closed", "frozen", "open"]
    assert "Foncière Presqu'île" in path.read_text(encoding="utf-8")  # the restaurant's landlord
    sandbox.delete_api_token(record.id)
    async with PennylaneClient(pennylane_settings, api_token=token) as pennylane:
        with pytest.raises(AuthorizationLost):
            await pennylane.fiscal_years()


def test_client_needs_exactly_one_credential(pennylane_settings: Settings) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PennylaneClient(pennylane_settings)
