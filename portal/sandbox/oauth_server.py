"""The OAuth 2.0 server both sandboxes (Pennylane, the commerce sources) stand on.

The two stand-ins run the same authorization-code flow with PKCE (S256) and rotating
refresh tokens; what they grant differs (a company and its scopes, or an account): the
*subject* of a code and of the token pair it gives. Each keeps its consent page and its
routes; here is what does not depend on the provider: the codes and token pairs and their
issuing, rotation and revocation (``TokenIssuer``, which each sandbox's state extends),
the checks of an authorization request, the token and revocation endpoints, the redirect
back to the application, the client's authentication, the PKCE check of a redeemed code,
and the JSON error answer of RFC 6749 §5.2.

Tokens and codes are kept as SHA-256 digests only, like a real provider's database; the
plain values exist once, in the answer that hands them out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from litestar import MediaType, Request, Response
from litestar.response import Redirect

from portal.web import forms

if TYPE_CHECKING:  # the sites import their routes, which import this module
    from portal.sandbox.pennylane.site import RegisteredClient

OUTSIDE = {"exclude_from_auth": True, "exclude_from_csrf": True}
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
S = TypeVar("S")  # what a consent grants: a company and scopes, an account…
# How the endpoints receive what the application or the browser posts: every field, as text.
Posted = Annotated[forms.Fields, forms.POSTED]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class AuthorizationCode(Generic[S]):
    client_id: str
    redirect_uri: str
    subject: S
    code_challenge: str
    expires_at: float
    used: bool = False
    grant_key: str | None = None  # the access token it gave, revoked if the code is replayed


@dataclass
class Grant(Generic[S]):
    """An OAuth access token and its refresh token: they live and die together."""

    client_id: str
    subject: S
    access_key: str
    refresh_key: str
    access_expires_at: float
    refresh_expires_at: float
    active: bool = True


@dataclass(frozen=True)
class IssuedTokens(Generic[S]):
    access_token: str
    refresh_token: str
    expires_in: int
    subject: S

    def as_response(self, **extra: Any) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            **extra,
        }


@dataclass
class TokenIssuer(Generic[S]):
    """Codes and rotating token pairs, in memory. The methods never await, so within one event
    loop each runs whole: that is all the locking a sandbox needs."""

    # Tunables: tests lower them to make things expire.
    access_token_seconds: float = 3600
    refresh_token_seconds: float = 90 * 86_400
    code_seconds: float = 120
    clock: Callable[[], float] = time.time

    codes: dict[str, AuthorizationCode[S]] = field(default_factory=dict)
    grants: dict[str, Grant[S]] = field(default_factory=dict)  # by access-token digest
    refresh_index: dict[str, str] = field(default_factory=dict)  # refresh digest -> access digest
    counters: Counter[str] = field(default_factory=Counter)

    def issue_code(self, *, client_id: str, redirect_uri: str, subject: S, code_challenge: str) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[digest(code)] = AuthorizationCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            subject=subject,
            code_challenge=code_challenge,
            expires_at=self.clock() + self.code_seconds,
        )
        return code

    def redeem_code(self, code: str) -> AuthorizationCode[S] | None:
        """The code's grant, once: a second use fails and revokes what the first one gave."""
        found = self.codes.get(digest(code))
        if found is None:
            return None
        if found.used:
            if found.grant_key:
                self._kill(found.grant_key)
            return None
        found.used = True
        if self.clock() >= found.expires_at:
            return None
        return found

    def issue_grant(self, *, client_id: str, subject: S) -> IssuedTokens[S]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        grant = Grant(
            client_id=client_id,
            subject=subject,
            access_key=digest(access),
            refresh_key=digest(refresh),
            access_expires_at=now + self.access_token_seconds,
            refresh_expires_at=now + self.refresh_token_seconds,
        )
        self.grants[grant.access_key] = grant
        self.refresh_index[grant.refresh_key] = grant.access_key
        self.counters["grants"] += 1
        return IssuedTokens(access, refresh, math.ceil(self.access_token_seconds), subject)

    def rotate(self, refresh_token: str, client_id: str) -> IssuedTokens[S] | None:
        """A new pair for a live refresh token; the old pair dies (a replayed one gets nothing)."""
        access_key = self.refresh_index.get(digest(refresh_token))
        grant = self.grants.get(access_key) if access_key else None
        if grant is None or not grant.active or grant.client_id != client_id:
            return None
        grant.active = False
        if self.clock() >= grant.refresh_expires_at:
            return None
        self.counters["refreshes"] += 1
        return self.issue_grant(client_id=client_id, subject=grant.subject)

    def revoke(self, token: str) -> bool:
        """Kill the pair one of whose tokens (access or refresh) is given."""
        key = digest(token)
        return self._kill(key if key in self.grants else self.refresh_index.get(key, ""))

    def _kill(self, access_key: str) -> bool:
        grant = self.grants.get(access_key)
        if grant is None or not grant.active:
            return False
        grant.active = False
        self.counters["revocations"] += 1
        return True

    def expire_access_tokens(self) -> None:
        """Let every access token run out now, whatever its holder believes (refresh tokens live on)."""
        now = self.clock()
        for grant in self.grants.values():
            grant.access_expires_at = min(grant.access_expires_at, now)


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


def code_accepted(code: AuthorizationCode[Any], client: RegisteredClient, form: Mapping[str, Any]) -> bool:
    """Whether a redeemed code was issued to ``client`` for the same redirect URI, and the verifier matches."""
    verifier = str(form.get("code_verifier", ""))
    return (
        code.client_id == client.client_id
        and code.redirect_uri == form.get("redirect_uri")
        and VERIFIER.match(verifier) is not None
        and secrets.compare_digest(s256(verifier), code.code_challenge)
    )


# --- the endpoints ---


@dataclass(frozen=True)
class AuthorizeRequest:
    """An authorization request whose client and redirect URI are known; ``params`` as received."""

    client: RegisteredClient
    redirect_uri: str
    state: str
    code_challenge: str
    params: Mapping[str, Any]

    def refuse(self, error: str, description: str) -> Response[Any]:
        """Back to the application with ``error`` (RFC 6749 §4.1.2.1)."""
        target = back_to(self.redirect_uri, error=error, error_description=description, state=self.state)
        return Redirect(target, status_code=303)

    def grant(self, code: str) -> Response[Any]:
        return Redirect(back_to(self.redirect_uri, code=code, state=self.state), status_code=303)

    @property
    def hidden_fields(self) -> dict[str, str]:
        """What the consent form posts back, to be checked again."""
        return {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }


def check_authorize(
    clients: Mapping[str, RegisteredClient],
    params: Mapping[str, Any],
    show_error: Callable[[str, str], Response[Any]],
    *,
    unknown_client: str,
) -> AuthorizeRequest | Response[Any]:
    """The request, or the answer refusing it: shown on a page until the redirect URI is known to
    belong to the application (an open redirect otherwise), sent back to it after that."""
    client = clients.get(str(params.get("client_id", "")))
    if client is None:
        return show_error("Application inconnue", unknown_client)
    redirect_uri = str(params.get("redirect_uri", ""))
    if not client.accepts_redirect(redirect_uri):
        return show_error(
            "Adresse de retour refusée",
            "L'adresse de retour demandée n'est pas celle enregistrée pour cette application.",
        )
    asked = AuthorizeRequest(client, redirect_uri, str(params.get("state", "")), "", params)
    if params.get("response_type") != "code":
        return asked.refuse("unsupported_response_type", "Seul response_type=code est accepté.")
    challenge = str(params.get("code_challenge", ""))
    if params.get("code_challenge_method") != "S256" or not VERIFIER.match(challenge):
        return asked.refuse("invalid_request", "PKCE obligatoire : code_challenge avec code_challenge_method=S256.")
    return AuthorizeRequest(client, redirect_uri, asked.state, challenge, params)


def denied(asked: AuthorizeRequest) -> Response[Any]:
    """The person said no on the consent page."""
    return asked.refuse("access_denied", "Accès refusé.")


async def token_endpoint(
    request: Request[Any, Any, Any],
    form: Mapping[str, Any],
    clients: Mapping[str, RegisteredClient],
    issuer: TokenIssuer[S],
    answer: Callable[[IssuedTokens[S]], dict[str, Any]],
) -> Response[Any]:
    """The token endpoint: a code (with its PKCE verifier) or a refresh token for a new pair."""
    client = calling_client(clients, request, form)
    if client is None:
        return oauth_error("invalid_client", 401)
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = issuer.redeem_code(str(form.get("code", "")))
        if code is None or not code_accepted(code, client, form):
            return oauth_error(
                "invalid_grant", description="Code inconnu, expiré, déjà utilisé ou vérificateur PKCE faux."
            )
        issued = issuer.issue_grant(client_id=client.client_id, subject=code.subject)
        code.grant_key = digest(issued.access_token)
        return Response(answer(issued), media_type=MediaType.JSON, headers=NO_STORE)
    if grant_type == "refresh_token":
        rotated = issuer.rotate(str(form.get("refresh_token", "")), client.client_id)
        if rotated is None:
            return oauth_error(
                "invalid_grant", description="Jeton de renouvellement inconnu, expiré, révoqué ou déjà utilisé."
            )
        return Response(answer(rotated), media_type=MediaType.JSON, headers=NO_STORE)
    return oauth_error("unsupported_grant_type")


async def revoke_endpoint(
    request: Request[Any, Any, Any],
    form: Mapping[str, Any],
    clients: Mapping[str, RegisteredClient],
    issuer: TokenIssuer[Any],
) -> Response[Any]:
    """RFC 7009 revocation: an unknown token is not an error, the answer is the same."""
    if calling_client(clients, request, form) is None:
        return oauth_error("invalid_client", 401)
    issuer.revoke(str(form.get("token", "")))
    return Response({}, media_type=MediaType.JSON, headers=NO_STORE)
