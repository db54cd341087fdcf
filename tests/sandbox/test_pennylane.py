"""The Pennylane sandbox, over HTTP: it behaves as the documented API does, refusals included."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx

from portal.demo import fictional_siren
from portal.integrations.pennylane import start_authorization
from portal.sandbox.pennylane import SandboxState
from portal.sandbox.pennylane.data import COMPANIES, FEC_HEADER, fec_text
from portal.sandbox.pennylane.state import digest
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests.pennylane_consent import REDIRECT_URI, consent, form_of

CLIENT = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}


def _query(url: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}


async def _code_grant(settings: Settings, http: httpx.AsyncClient, *, verifier: str | None = None) -> httpx.Response:
    start, callback = await consent(settings)
    return await http.post(
        f"{settings.pennylane_oauth_url}/token",
        data={
            **CLIENT,
            "grant_type": "authorization_code",
            "code": _query(callback)["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier or start.code_verifier,
        },
    )


async def _tokens(settings: Settings, http: httpx.AsyncClient) -> dict[str, str]:
    answer = await _code_grant(settings, http)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_consent_page_shows_the_companies_and_the_rights_in_words(pennylane_settings: Settings) -> None:
    start = start_authorization(pennylane_settings, REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(start.url)
    assert page.status_code == 200
    text = page.text
    assert "Sélectionnez l'entreprise que vous souhaitez connecter et cliquez sur « Autoriser »." in text
    assert "Portail Cabinet souhaite accéder à votre compte Pennylane" in text
    assert "Export du FEC" in text
    assert "Lecture des exercices" in text
    _, hidden, companies = form_of(text)
    assert set(companies) == {"Boulangerie Martin", "Garage du Centre", "Restaurant Le Cèdre"}
    assert hidden["code_challenge_method"] == "S256"
    assert hidden["state"] == start.state
    siren = fictional_siren("81234567")
    assert f"SIREN {siren[:3]} {siren[3:6]} {siren[6:]}" in text
    assert "'unsafe-inline'" in page.headers["content-security-policy"]


async def test_unknown_application_or_foreign_redirect_gets_a_page_not_a_redirect(
    pennylane_settings: Settings,
) -> None:
    url = f"{pennylane_settings.pennylane_oauth_url}/authorize"
    base = {
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "exports:fec",
        "state": "s",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient() as browser:
        unknown = await browser.get(url, params={**base, "client_id": "someone-else"})
        foreign = await browser.get(url, params={**base, "redirect_uri": "https://attacker.example/cb"})
        no_pkce = await browser.get(url, params={**base, "code_challenge_method": "plain"})
        bad_scope = await browser.get(url, params={**base, "scope": "ledger_entries:all"})
    assert unknown.status_code == 400
    assert "Application inconnue" in unknown.text
    assert foreign.status_code == 400
    assert "Adresse de retour refusée" in foreign.text
    # Once the redirect is known to be the application's, errors go back to it.
    assert no_pkce.status_code == 303
    assert _query(no_pkce.headers["location"])["error"] == "invalid_request"
    assert _query(bad_scope.headers["location"]) | {"error_description": ""} == {
        "error": "invalid_scope",
        "error_description": "",
        "state": "s",
    }


async def test_refusing_sends_access_denied_with_the_state(pennylane_settings: Settings) -> None:
    start, callback = await consent(pennylane_settings, decision="deny")
    assert _query(callback)["error"] == "access_denied"
    assert _query(callback)["state"] == start.state
    assert "code" not in _query(callback)


async def test_wrong_code_verifier_is_invalid_grant(pennylane_settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        answer = await _code_grant(pennylane_settings, http, verifier="w" * 64)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_a_code_works_once_and_its_replay_revokes_what_it_gave(
    pennylane_settings: Settings, sandbox: SandboxState
) -> None:
    start, callback = await consent(pennylane_settings)
    form = {
        **CLIENT,
        "grant_type": "authorization_code",
        "code": _query(callback)["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": start.code_verifier,
    }
    token_url = f"{pennylane_settings.pennylane_oauth_url}/token"
    api = pennylane_settings.pennylane_api_url
    async with httpx.AsyncClient() as http:
        first = await http.post(token_url, data=form)
        assert first.status_code == 200
        body = first.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 86_400
        assert set(body["scope"].split()) == {"exports:fec", "fiscal_years:readonly"}
        assert first.headers["cache-control"] == "no-store"
        assert (await http.get(f"{api}/fiscal_years", headers=_bearer(body["access_token"]))).status_code == 200
        again = await http.post(token_url, data=form)
        assert again.status_code == 400
        assert again.json()["error"] == "invalid_grant"
        assert (await http.get(f"{api}/fiscal_years", headers=_bearer(body["access_token"]))).status_code == 401
        wrong_secret = await http.post(token_url, data={**form, "client_secret": "nope"})
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert sandbox.counters["grants"] == 1


async def test_an_expired_code_is_refused(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    sandbox.code_seconds = 0
    async with httpx.AsyncClient() as http:
        answer = await _code_grant(pennylane_settings, http)
    assert answer.json()["error"] == "invalid_grant"


async def test_refresh_rotates_the_pair(pennylane_settings: Settings) -> None:
    token_url = f"{pennylane_settings.pennylane_oauth_url}/token"
    api = pennylane_settings.pennylane_api_url
    async with httpx.AsyncClient() as http:
        old = await _tokens(pennylane_settings, http)
        refresh = {**CLIENT, "grant_type": "refresh_token", "refresh_token": old["refresh_token"]}
        rotated = await http.post(token_url, data=refresh)
        assert rotated.status_code == 200
        new = rotated.json()
        assert new["refresh_token"] != old["refresh_token"]
        assert new["access_token"] != old["access_token"]
        replay = await http.post(token_url, data=refresh)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        assert (await http.get(f"{api}/fiscal_years", headers=_bearer(old["access_token"]))).status_code == 401
        assert (await http.get(f"{api}/fiscal_years", headers=_bearer(new["access_token"]))).status_code == 200
        # HTTP Basic is accepted too (client_secret_basic).
        basic = await http.post(
            token_url,
            data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
            auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
        )
    assert basic.status_code == 200


async def test_revoke_kills_the_pair(pennylane_settings: Settings) -> None:
    oauth = pennylane_settings.pennylane_oauth_url
    async with httpx.AsyncClient() as http:
        tokens = await _tokens(pennylane_settings, http)
        revoked = await http.post(f"{oauth}/revoke", data={**CLIENT, "token": tokens["access_token"]})
        assert revoked.status_code == 200
        api = await http.get(
            f"{pennylane_settings.pennylane_api_url}/fiscal_years", headers=_bearer(tokens["access_token"])
        )
        refresh = await http.post(
            f"{oauth}/token", data={**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
    assert api.status_code == 401
    assert api.json()["error"] == "unauthorized"
    assert refresh.json()["error"] == "invalid_grant"


async def test_fiscal_years_paginate_with_a_cursor(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    url = f"{pennylane_settings.pennylane_api_url}/fiscal_years"
    async with httpx.AsyncClient() as http:
        headers = _bearer((await _tokens(pennylane_settings, http))["access_token"])
        first = (await http.get(url, params={"limit": 3}, headers=headers)).json()
        second = (await http.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers)).json()
        bad = await http.get(url, params={"cursor": "not-a-cursor"}, headers=headers)
    assert [item["start"] for item in first["items"]] == ["2023-01-01", "2024-01-01", "2025-01-01"]
    assert first["has_more"] is True
    (last,) = second["items"]
    assert second == {
        "items": [{"id": last["id"], "start": "2026-01-01", "finish": "2026-12-31", "status": "open",
                   "created_at": "2026-01-01T09:00:00+00:00", "updated_at": last["updated_at"]}],
        "has_more": False,
        "next_cursor": None,
    }  # fmt: skip
    assert first["items"][0]["updated_at"] == "2024-03-30T18:00:00+00:00"  # a closed year: when it was closed
    assert {item["status"] for item in first["items"]} <= {"closed", "frozen"}
    assert bad.status_code == 400
    assert sandbox.counters["api_requests"] == 3


async def test_missing_scope_is_403(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    token, _ = sandbox.create_api_token(
        name="lecture",
        company_id=sandbox.companies[0].id,
        scopes=frozenset({"fiscal_years:readonly"}),
        lifetime_days=None,
    )
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{pennylane_settings.pennylane_api_url}/exports/fecs",
            json={"period_start": "2024-01-01", "period_end": "2024-12-31"},
            headers=_bearer(token),
        )
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    assert answer.headers["ratelimit-limit"] == "25"


async def test_rate_limit_headers_and_429(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    sandbox.rate_limit = 2
    url = f"{pennylane_settings.pennylane_api_url}/fiscal_years"
    async with httpx.AsyncClient() as http:
        headers = _bearer((await _tokens(pennylane_settings, http))["access_token"])
        answers = [await http.get(url, headers=headers) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in answers] == ["1", "0", "0"]
    assert int(answers[2].headers["retry-after"]) in range(1, 7)
    assert int(answers[2].headers["ratelimit-reset"]) == int(answers[0].headers["ratelimit-reset"])
    assert answers[2].json()["error"] == "too_many_requests"


async def test_export_bad_dates_are_422(pennylane_settings: Settings) -> None:
    url = f"{pennylane_settings.pennylane_api_url}/exports/fecs"
    async with httpx.AsyncClient() as http:
        headers = _bearer((await _tokens(pennylane_settings, http))["access_token"])
        missing = await http.post(url, json={"period_start": "2024-01-01"}, headers=headers)
        invalid = await http.post(url, json={"period_start": "2024-02-30", "period_end": "2024-12-31"}, headers=headers)
        backwards = await http.post(
            url, json={"period_start": "2024-12-31", "period_end": "2024-01-01"}, headers=headers
        )
    assert [answer.status_code for answer in (missing, invalid, backwards)] == [422, 422, 422]
    assert "period_end" in missing.json()["message"]


async def test_export_becomes_ready_and_its_link_expires(pennylane_settings: Settings, sandbox: SandboxState) -> None:
    api = pennylane_settings.pennylane_api_url
    async with httpx.AsyncClient() as http:
        headers = _bearer((await _tokens(pennylane_settings, http))["access_token"])
        created = await http.post(
            f"{api}/exports/fecs", json={"period_start": "2024-01-01", "period_end": "2024-12-31"}, headers=headers
        )
        assert created.status_code == 201
        assert created.json()["status"] == "pending"
        polled = [
            (await http.get(f"{api}/exports/fecs/{created.json()['id']}", headers=headers)).json() for _ in range(2)
        ]
        assert [(poll["status"], poll["file_url"] is None) for poll in polled] == [("pending", True), ("ready", False)]
        file_url = polled[1]["file_url"]
        assert file_url.startswith(f"{api.split('/sandbox/')[0]}/sandbox/pennylane/fichiers/")
        download = await http.get(file_url)
        sandbox.file_link_seconds = 0
        expired_url = (await http.get(f"{api}/exports/fecs/{created.json()['id']}", headers=headers)).json()["file_url"]
        expired = await http.get(expired_url)
        forged = await http.get(file_url[:-4] + "AAAA")
        other_company = _bearer((await _tokens_for(pennylane_settings, http, "Garage du Centre"))["access_token"])
        hidden = await http.get(f"{api}/exports/fecs/{created.json()['id']}", headers=other_company)
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/plain; charset=utf-8"
    siren = fictional_siren("81234567")
    assert download.headers["content-disposition"] == f'attachment; filename="{siren}FEC20241231.txt"'
    assert expired.status_code == 410
    assert forged.status_code == 403
    assert hidden.status_code == 404


async def _tokens_for(settings: Settings, http: httpx.AsyncClient, company: str) -> dict[str, str]:
    start, callback = await consent(settings, company=company)
    answer = await http.post(
        f"{settings.pennylane_oauth_url}/token",
        data={
            **CLIENT,
            "grant_type": "authorization_code",
            "code": _query(callback)["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": start.code_verifier,
        },
    )
    return dict(answer.json())


def test_the_fec_is_a_legal_fec() -> None:
    for company in COMPANIES:
        text = fec_text(company.id, date(2024, 1, 1), date(2024, 12, 31))
        lines = text.rstrip("\n").split("\n")
        assert lines[0].split("\t") == list(FEC_HEADER)
        rows = [line.split("\t") for line in lines[1:]]
        assert 300 <= len(rows) <= 2_500
        assert all(len(row) == 18 for row in rows)
        entries: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        numbers: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            journal, number, day, debit, credit = row[0], row[2], row[3], row[11], row[12]
            assert re.fullmatch(r"2024\d{4}", day)
            assert re.fullmatch(r"\d+,\d{2}", debit)
            assert re.fullmatch(r"\d+,\d{2}", credit)
            entries[journal, number] += Decimal(debit.replace(",", ".")) - Decimal(credit.replace(",", "."))
            if not numbers[journal] or numbers[journal][-1] != number:
                numbers[journal].append(number)
        assert all(balance == 0 for balance in entries.values()), "every entry balances"
        for journal, seen in numbers.items():
            assert seen == sorted(set(seen)), f"{journal}: numbers unique and increasing"
        accounts = {row[4] for row in rows}
        assert {"411000", "401000", "512000", "641000", "645000", "421000", "431000", "445660"} <= accounts
        assert accounts & {"706000", "707000"}
        assert {row[0] for row in rows} == {"AN", "VT", "AC", "BQ", "OD"}
        assert any(row[6].startswith("C") and row[7] for row in rows if row[4] == "411000")
        assert any(row[6].startswith("F") and row[7] for row in rows if row[4] == "401000")
    rates = {
        row.split("\t")[4]
        for row in fec_text(COMPANIES[0].id, date(2024, 1, 1), date(2024, 12, 31)).split("\n")[1:]
        if row
    }
    assert {"445711", "445712", "445713"} <= rates
    # The same books on every run; an open year stops at today.
    assert fec_text(COMPANIES[0].id, date(2024, 1, 1), date(2024, 3, 31)) == fec_text(
        COMPANIES[0].id, date(2024, 1, 1), date(2024, 3, 31)
    )
    early = fec_text(COMPANIES[0].id, date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 2, 15))
    assert max(row.split("\t")[3] for row in early.split("\n")[1:] if row) <= "20260215"


async def test_personal_tokens_page_shows_the_token_once_and_keeps_its_hash(
    pennylane_settings: Settings, sandbox: SandboxState
) -> None:
    page_url = pennylane_settings.pennylane_oauth_url.removesuffix("/oauth") + "/jetons"
    company = sandbox.companies[1]
    async with httpx.AsyncClient() as browser:
        empty = await browser.get(page_url)
        assert empty.status_code == 200
        assert "Nouveau jeton d'API" in empty.text
        refused = await browser.post(page_url, data={"name": "", "company_id": str(company.id)})
        assert refused.status_code == 400
        assert "Cochez au moins un droit." in refused.text
        created = await browser.post(
            page_url,
            data={"name": "Portail", "company_id": str(company.id), "scope": ["exports:fec", "fiscal_years:readonly"]},
        )
        again = await browser.get(page_url)
    assert created.status_code == 200
    assert "Copiez-le maintenant : il ne sera plus affiché." in created.text
    match = re.search(r'<p class="secret" id="nouveau-jeton">([^<]+)</p>', created.text)
    assert match
    token = match.group(1)
    assert token not in again.text
    assert "Portail" in again.text
    (record,) = sandbox.api_tokens.values()
    assert record.key == digest(token)
    assert token not in repr(sandbox)
    assert record.company_id == company.id
