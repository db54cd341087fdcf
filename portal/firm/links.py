"""The link of an invitation: its token, what is stored of it, how long it serves.

The sending job (``portal.firm.tasks``) draws the token; acceptance (``portal.firm.invitations``)
finds the invitation by the token's digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

VALIDITY = dt.timedelta(days=7)
TOKEN_BYTES = 32


def token_digest(token: str) -> str:
    """What is stored of a link's token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def draw_token() -> tuple[str, str]:
    """A new link token and its digest."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)
