"""The token of a password reset link: what the email carries, and what is stored of it (its SHA-256)."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def token_digest(token: str) -> str:
    """What is stored of a link's token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def draw_token() -> tuple[str, str]:
    """A new link token and its digest."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)
