"""Secrets carried by addresses (an invitation link, a password-reset link, an OAuth callback), masked.

A link that lets its holder in carries its secret in the address: ``/invitation/<token>``,
``/mot-de-passe/<token>``, ``?code=…&state=…``. Such an address must never be written where
someone else than its recipient reads it: the access log, the development mail page. The
rule is general, so a link added later is covered without being named here:

- a path segment (or query value, or fragment) shaped like a token: 20 or more URL-safe
  characters mixing letters with digits or capitals, not a UUID nor a hexadecimal digest
  (the ids of the portal's pages, which are no secret);
- the value of a query parameter whose name says it is secret (``token``, ``code``, ``state``…).
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"
# What a token drawn by ``secrets.token_urlsafe`` looks like; a UUID or a digest is an id, not a secret.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{20,}$")
NOT_SECRET = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]+)$"
)
SECRET_PARAMETERS = frozenset(
    {"token", "jeton", "code", "state", "nonce", "code_verifier", "access_token", "refresh_token", "id_token",
     "password", "mot_de_passe", "secret", "key", "cle", "api_key", "signature", "sig"}
)  # fmt: skip
# An absolute URL or a path, up to what ends it in text, HTML or a log line.
URL = re.compile(r"(?:https?://[^\s\"'<>/]+)?/[^\s\"'<>]*")
SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_\-]+")
PARAMETER = re.compile(r"(?P<lead>[?&;#]|&amp;)(?P<name>[^=&;#\s]+)=(?P<value>[^&;#\s]*)")


def looks_secret(value: str) -> bool:
    """``value`` is shaped like a drawn token (see the module's docstring)."""
    if not TOKEN_SHAPE.match(value) or NOT_SECRET.match(value):
        return False
    has_letter = any(character.isalpha() for character in value)
    return has_letter and any(character.isdigit() or character.isupper() for character in value)


def redact_url(url: str) -> str:
    """``url`` (absolute or a path, with its query and fragment) with every secret in it masked."""
    start = url.find("//") + 2 if url.startswith(("http://", "https://")) else 0
    host_end = url.find("/", start) if start else 0
    if host_end < 0:
        return url
    head, rest = url[:host_end], url[host_end:]
    cut = min((index for index in (rest.find("?"), rest.find("#")) if index >= 0), default=len(rest))
    path, tail = rest[:cut], rest[cut:]
    path = SEGMENT.sub(lambda match: MASK if looks_secret(match.group(0)) else match.group(0), path)

    def parameter(match: re.Match[str]) -> str:
        name, value = match.group("name"), match.group("value")
        if value and (name.lower() in SECRET_PARAMETERS or looks_secret(value)):
            value = MASK
        return f"{match.group('lead')}{name}={value}"

    tail = PARAMETER.sub(parameter, tail)
    if tail.startswith("#") and looks_secret(tail[1:]):
        tail = "#" + MASK
    return head + path + tail


def redact_text(text: str) -> str:
    """Every address found in ``text`` (plain text or HTML) with its secrets masked."""
    return URL.sub(lambda match: redact_url(match.group(0)), text)


class RedactSecrets(logging.Filter):
    """Masks the secrets of the addresses in a log record's arguments (uvicorn's access log: its path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        arguments: Any = record.args
        if isinstance(arguments, tuple):
            record.args = tuple(_redacted(argument) for argument in arguments)
        elif isinstance(arguments, dict):
            record.args = {key: _redacted(value) for key, value in arguments.items()}
        if isinstance(record.msg, str) and "/" in record.msg:
            record.msg = redact_text(record.msg)
        return True


def _redacted(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) and "/" in value else value


# uvicorn's access log (one line per request, with its path), Litestar's own (uncaught errors name the path),
# and httpx's (the requests the portal makes, with their address).
LOGGERS = ("uvicorn.access", "uvicorn.error", "litestar", "httpx")
_FILTER = RedactSecrets()


def install_log_redaction() -> None:
    """Put the filter on the loggers that write request addresses. Idempotent."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
