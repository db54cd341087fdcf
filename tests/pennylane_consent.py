"""Going through the sandbox's consent page over HTTP, as the accountant's browser would."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from portal.integrations.pennylane import AuthorizationStart, finish_authorization, start_authorization
from portal.settings import Settings

# The portal's callback; never fetched: the tests stop at the redirect and hand its URL over.
REDIRECT_URI = "http://127.0.0.1:9/connexions/pennylane/retour"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
COMPANY = re.compile(r'name="company_id" value="(\d+)"[^>]*>\s*<span><strong>([^<]+)</strong>')
ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def form_of(page: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The consent form's action, hidden fields, and companies (name → id)."""
    action = ACTION.search(page)
    assert action, "no form on the consent page"
    hidden = {name: html.unescape(value) for name, value in HIDDEN.findall(page)}
    companies = {html.unescape(name): company_id for company_id, name in COMPANY.findall(page)}
    return html.unescape(action.group(1)), hidden, companies


async def consent(
    settings: Settings, *, company: str = "Boulangerie Martin", decision: str = "allow"
) -> tuple[AuthorizationStart, str]:
    """Start an authorization, answer the consent page; the start and the URL Pennylane sends back to."""
    start = start_authorization(settings, REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(start.url)
        assert page.status_code == 200, page.text
        action, hidden, companies = form_of(page.text)
        answer = await browser.post(action, data={**hidden, "company_id": companies[company], "decision": decision})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return start, location


async def connect(settings: Settings, *, company: str = "Boulangerie Martin") -> dict[str, Any]:
    """The whole authorization: the token dict the portal would store."""
    start, callback = await consent(settings, company=company)
    return await finish_authorization(
        settings,
        redirect_uri=REDIRECT_URI,
        authorization_response=callback,
        expected_state=start.state,
        code_verifier=start.code_verifier,
    )
