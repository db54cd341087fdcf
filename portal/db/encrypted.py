"""Columns encrypted at rest: what is written to the database is a Fernet token, never the secret.

The keys come from ``PORTAL_ENCRYPTION_KEYS`` (newest first: the first encrypts, every
one decrypts, so keys can be rotated), or from one key generated once into ``var/``.
A value that no key decrypts reads as None: the secret is lost, and the connection that
held it asks to be set up again, rather than the page failing.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from portal.settings import get_settings

log = logging.getLogger(__name__)


@cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def cipher() -> MultiFernet:
    return _cipher(get_settings().encryption_keys)


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str | None:
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        log.warning("an encrypted value could not be decrypted with the configured keys")
        return None


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored as one Fernet token (text)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, _dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))

    def process_result_value(self, value: str | None, _dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        plain = decrypt(value)
        return None if plain is None else dict(json.loads(plain))


class EncryptedText(TypeDecorator[str]):
    """A text (a TOTP secret) stored as one Fernet token; reads as None when no key decrypts it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, _dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, _dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)
