"""A local OpenID Connect provider, served under ``/sandbox/oidc``: single sign-on clicked through offline.

It publishes a discovery document and its signing keys (JWKS), asks on a consent page who
signs in (an address, a name, whether the address is verified), and issues, against a code
and its PKCE verifier, an access token and an id token signed with its RSA key (kept in the
var directory). Tests tune it to misbehave: another audience, another nonce, another key.
"""

from portal.sandbox.oidc.routes import oidc_router
from portal.sandbox.oidc.state import OidcState, current_state, reset_state, use_state

__all__ = ["OidcState", "current_state", "oidc_router", "reset_state", "use_state"]
