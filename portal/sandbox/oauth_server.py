"""The OAuth 2.0 server pieces both sandboxes (Pennylane, the commerce sources) share.

The two stand-ins run the same authorization-code flow with PKCE (S256) and rotating
refresh tokens; what they grant differs (a company and its scopes, or an account), so each
keeps its consent page, its state and its routes, and takes from here what does not
depend on the provider: the routes' options, the redirect back to the application, the
client's authentication at the token endpoint, the PKCE check of a redeemed code, and the
JSON error answer of RFC 6749 §5.2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from litestar import MediaType, Request, Response

if TYPE_CHECKING:  # the sites import their routes, which import this module
    from portal.sandbox.pennylane.site import RegisteredClient

OUTSIDE = {"exclude_from_auth": True, "exclude_from_csrf": True}
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class IssuedCode(Protocol):
    client_id: str
    redirect_uri: str
    code_challenge: str


def back_to(redirect_uri: str, **params: str) -> str:
    """``redirect_uri`` with ``params`` added to its query (empty values left out)."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(key, value) for key, value in params.items() if value]
    return urlunsplit(parts._replace(query=urlencode(query)))


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def oauth_error(error: str, status_code: int = 400, description: str = "") -> Response[Any]:
    body = {"error": error} | ({"error_description": description} if description else {})
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=NO_STORE)


def calling_client(
    clients: Mapping[str, RegisteredClient], request: Request[Any, Any, Any], form: Mapping[str, Any]
) -> RegisteredClient | None:
    """The application calling, by HTTP Basic (``client_secret_basic``) or form fields (``_post``)."""
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        client_id, secret = unquote(user), unquote(password)
    client = clients.get(client_id)
    return client if client is not None and client.accepts_secret(secret) else None


def code_accepted(code: IssuedCode, client: RegisteredClient, form: Mapping[str, Any]) -> bool:
    """Whether a redeemed code was issued to ``client`` for the same redirect URI, and the verifier matches."""
    verifier = str(form.get("code_verifier", ""))
    return (
        code.client_id == client.client_id
        and code.redirect_uri == form.get("redirect_uri")
        and VERIFIER.match(verifier) is not None
        and secrets.compare_digest(s256(verifier), code.code_challenge)
    )
