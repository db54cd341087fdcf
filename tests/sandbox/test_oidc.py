"""The OpenID sandbox, over HTTP: discovery, keys, consent, a code redeemed once with its verifier, userinfo."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from portal.sandbox.oauth_server import s256
from portal.sandbox.oidc import OidcState
from portal.sandbox.oidc.state import subject_for
from portal.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

REDIRECT_URI = "http://127.0.0.1:8000/connexion/oidc/oidc/retour"
VERIFIER = "v" * 64
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _authorize(issuer: str, **overrides: str) -> str:
    params = {"response_type": "code", "client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT_URI,
              "scope": "openid email", "state": "etat", "nonce": "nonce-1", "code_challenge": s256(VERIFIER),
              "code_challenge_method": "S256"} | overrides  # fmt: skip
    return str(httpx.URL(f"{issuer}/authorize", params=params))


async def _code(http: httpx.AsyncClient, issuer: str, email: str = "claire@cabinet-test.fr") -> str:
    page = await http.get(_authorize(issuer))
    hidden = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    answer = await http.post(f"{issuer}/authorize", data={**hidden, "email": email, "name": "Claire",
                                                         "email_verified": "1", "decision": "allow"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["etat"]
    return query["code"][0]


def _redeem(code: str, verifier: str = VERIFIER) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}


async def test_discovery_keys_and_a_signed_id_token(sandbox_url: str, oidc_sandbox: OidcState) -> None:
    issuer = f"{sandbox_url}/sandbox/oidc"
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
        assert document["issuer"] == issuer
        assert document["code_challenge_methods_supported"] == ["S256"]
        keys = KeySet.import_key_set((await http.get(document["jwks_uri"])).json())
        code = await _code(http, issuer)
        tokens = await http.post(document["token_endpoint"], data=_redeem(code),
                                 auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET))  # fmt: skip
        assert tokens.status_code == 200, tokens.text
        claims = jwt.decode(tokens.json()["id_token"], keys, algorithms=["RS256"]).claims
        assert (claims["iss"], claims["aud"], claims["nonce"]) == (issuer, SANDBOX_CLIENT_ID, "nonce-1")
        assert (claims["sub"], claims["email"], claims["email_verified"]) == (
            subject_for("claire@cabinet-test.fr"),
            "claire@cabinet-test.fr",
            True,
        )
        info = await http.get(document["userinfo_endpoint"],
                              headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})  # fmt: skip
        assert info.json()["email"] == "claire@cabinet-test.fr"
        # The code served once; a wrong verifier or an unknown bearer gets nothing.
        again = await http.post(document["token_endpoint"], data=_redeem(code),
                                auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET))  # fmt: skip
        assert again.json()["error"] == "invalid_grant"
        wrong = await http.post(document["token_endpoint"], data=_redeem(await _code(http, issuer), "w" * 64),
                                auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET))  # fmt: skip
        assert wrong.json()["error"] == "invalid_grant"
        stranger = await http.get(document["userinfo_endpoint"], headers={"Authorization": "Bearer inconnu"})
        assert stranger.status_code == 401
        assert "Fournisseur d'identité de démonstration" in html.unescape((await http.get(f"{issuer}/")).text)


async def test_the_consent_page_refuses_what_is_not_openid(sandbox_url: str, oidc_sandbox: OidcState) -> None:
    issuer = f"{sandbox_url}/sandbox/oidc"
    async with httpx.AsyncClient() as http:
        unknown = await http.get(_authorize(issuer, client_id="inconnu"))
        assert unknown.status_code == 400
        assert "n'est pas enregistrée" in html.unescape(unknown.text)
        no_openid = await http.get(_authorize(issuer, scope="email"))
        assert parse_qs(urlsplit(no_openid.headers["location"]).query)["error"] == ["invalid_scope"]
        page = await http.get(_authorize(issuer))
        hidden = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
        bad = await http.post(f"{issuer}/authorize", data={**hidden, "email": "pas-une-adresse", "decision": "allow"})
        assert bad.status_code == 400
        assert "Saisissez une adresse e-mail valide." in bad.text
        assert 'value="pas-une-adresse"' in bad.text  # what was typed stays
