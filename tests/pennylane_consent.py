"""Going through the sandbox's consent page over HTTP, as the accountant's browser would."""

from __future__ import annotations

from typing import Any

from portal.integrations.pennylane import AuthorizationStart, finish_authorization, start_authorization
from portal.settings import Settings
from tests.consent import answer_consent, consent_form

# The portal's callback; never fetched: the tests stop at the redirect and hand its URL over.
REDIRECT_URI = "http://127.0.0.1:9/connexions/pennylane/retour"


def form_of(page: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The consent form's action, hidden fields, and companies (name → id)."""
    return consent_form(page, "company_id")


async def consent(
    settings: Settings, *, company: str = "Boulangerie Martin", decision: str = "allow"
) -> tuple[AuthorizationStart, str]:
    """Start an authorization, answer the consent page; the start and the URL Pennylane sends back to."""
    start = start_authorization(settings, REDIRECT_URI)
    location = await answer_consent(start.url, REDIRECT_URI, field="company_id", choice=company, decision=decision)
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
