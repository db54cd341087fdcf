"""The relying party's own checks, where the sandbox cannot be made to fail that way."""

from __future__ import annotations

from typing import Any

import pytest

from portal.sandbox.oidc.keys import new_key
from portal.sso import openid
from portal.sso.openid import SignOnError
from portal.sso.providers import Provider

ISSUER = "https://idp.example"
PROVIDER = Provider("oidc", ISSUER, "portail", "secret", "")


@pytest.fixture(autouse=True)
def _forgotten() -> Any:
    openid.forget()
    yield
    openid.forget()


async def test_a_discovery_document_of_another_issuer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def answer(url: str, **_headers: str) -> dict[str, Any]:
        return {"issuer": "https://impostor.example", "authorization_endpoint": "a", "token_endpoint": "t",
                "jwks_uri": "j"}  # fmt: skip

    monkeypatch.setattr(openid, "_get_json", answer)
    with pytest.raises(SignOnError) as refused:
        await openid.discover(PROVIDER)
    assert refused.value.reason == "issuer_mismatch"


async def test_a_discovery_document_without_its_endpoints_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def answer(url: str, **_headers: str) -> dict[str, Any]:
        return {"issuer": ISSUER, "authorization_endpoint": "a"}

    monkeypatch.setattr(openid, "_get_json", answer)
    with pytest.raises(SignOnError) as refused:
        await openid.discover(PROVIDER)
    assert refused.value.reason == "discovery_incomplete"


async def test_a_provider_that_does_not_answer_is_said_so() -> None:
    down = Provider("oidc", "http://127.0.0.1:9", "portail", "secret", "")  # the discard port: nobody listens
    with pytest.raises(SignOnError) as refused:
        await openid.discover(down)
    assert refused.value.reason == "provider_unreachable"
    assert refused.value.message == openid.UNREACHABLE


async def test_an_unsigned_or_malformed_id_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def keys(url: str, **_headers: str) -> dict[str, Any]:
        return {"keys": [new_key().as_dict(private=False)]}

    monkeypatch.setattr(openid, "_get_json", keys)
    document = {"jwks_uri": "https://idp.example/jwks", "id_token_signing_alg_values_supported": ["none", "HS256"]}
    unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    for token, reason in (("", "id_token_missing"), (unsigned, "id_token_signature"), ("pas-un-jwt", None)):
        with pytest.raises(SignOnError) as refused:
            await openid.verify_id_token(PROVIDER, document, token, "nonce")
        if reason:
            assert refused.value.reason == reason
        else:
            assert refused.value.reason.startswith("id_token_")


def test_the_client_authenticates_as_the_provider_allows() -> None:
    assert openid._auth_method({}) == "client_secret_basic"
    assert openid._auth_method({"token_endpoint_auth_methods_supported": ["client_secret_post"]}) == (
        "client_secret_post"
    )
