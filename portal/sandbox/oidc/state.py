"""What the OpenID sandbox remembers: codes and tokens (``TokenIssuer``, of the OAuth server the
sandboxes share), each carrying who signed in and the nonce the application sent.

One instance is current for the process (``current_state``); tests install a fresh one with
``reset_state`` and tune it to misbehave: ``claims`` overrides claims of the id tokens it issues
(``{"aud": "someone-else"}``, ``{"nonce": "…"}``), ``foreign_key`` signs them with a key its
JWKS does not hold, ``rotated_key`` replaces its key (JWKS and signatures, under a new key id) as a
provider rotating its keys does, ``email_in_id_token=False`` leaves the address to the userinfo endpoint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import RSAKey

from portal.sandbox.oauth_server import TokenIssuer


def subject_for(email: str) -> str:
    """The subject of an address when the consent page leaves it blank: stable, like a real provider's."""
    return "sbx-" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


@dataclass(frozen=True)
class SignedIn:
    """What a consent grants: who signed in, and the nonce of the application's request."""

    subject: str
    email: str
    name: str
    email_verified: bool
    nonce: str

    def claims(self) -> dict[str, Any]:
        return {"sub": self.subject, "email": self.email, "email_verified": self.email_verified, "name": self.name}


@dataclass
class OidcState(TokenIssuer[SignedIn]):
    id_token_seconds: int = 300
    claims: dict[str, Any] = field(default_factory=dict)
    foreign_key: RSAKey | None = None
    rotated_key: RSAKey | None = None
    email_in_id_token: bool = True


_current = OidcState()


def current_state() -> OidcState:
    return _current


def use_state(state: OidcState) -> OidcState:
    """Make ``state`` the one the sandbox's routes read and write (tests)."""
    global _current  # noqa: PLW0603 - the process-wide stand-in is the point
    _current = state
    return state


def reset_state(**tunables: Any) -> OidcState:
    """A fresh state, made current: ``reset_state(claims={"aud": "autre"})``."""
    return use_state(OidcState(**tunables))
