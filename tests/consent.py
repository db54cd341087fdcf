"""Answering a sandbox's consent page over HTTP, as the accountant's browser would.

Both sandboxes render their consent page from one OAuth server: a form with hidden fields and one
radio button per account (Pennylane: ``company_id``; the POS and e-commerce sources: ``consumer_id``).
"""

from __future__ import annotations

import html
import re

import httpx

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def consent_form(page: str, field: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The consent form's action, hidden fields, and choices of ``field`` (account name → value)."""
    action = ACTION.search(page)
    assert action, "no form on the consent page"
    hidden = {name: html.unescape(value) for name, value in HIDDEN.findall(page)}
    choice = re.compile(rf'name="{field}" value="([^"]+)"[^>]*>\s*<span><strong>([^<]+)</strong>')
    choices = {html.unescape(name): value for value, name in choice.findall(page)}
    return html.unescape(action.group(1)), hidden, choices


async def answer_consent(url: str, redirect_uri: str, *, field: str, choice: str, decision: str) -> str:
    """Open the consent page at ``url``, pick ``choice`` and answer ``decision``; the URL sent back to."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        action, hidden, choices = consent_form(page.text, field)
        answer = await browser.post(action, data={**hidden, field: choices[choice], "decision": decision})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(redirect_uri + "?")
    return location
