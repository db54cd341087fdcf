"""Driving the portal over HTTP as a person would: read the form, post it back."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: AsyncTestClient[Any], path: str = "/connexion") -> str:
    page = await client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def sign_in(client: AsyncTestClient[Any], email: str, password: str) -> Any:
    token = await csrf_token(client)
    return await client.post(
        "/connexion",
        data={"email": email, "password": password, "_csrf_token": token},
        follow_redirects=False,
    )
