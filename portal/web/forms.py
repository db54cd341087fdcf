"""What a form may carry: every text field has a maximum length, and a form body a maximum size.

Each text field declares its limit once, where its form is declared (``text(200)`` in a form
dataclass), and the templates' ``maxlength`` say the same. The limits are checked **before**
any validation: a value over its limit is cut to it, so a page showing the form again never
echoes more than the limit (a 10 Mo name would come back whole otherwise), and the field gets
``TOO_LONG``. Search boxes and other query parameters are cut the same way (``query_text``),
silently: a search answers, it does not refuse. A urlencoded body larger than
``Settings.form_max_bytes`` is refused with 413 before it is read (``FormSizeLimit``), whatever
the route's own limit for uploads.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from babel.numbers import format_decimal
from litestar.datastructures import UploadFile
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from portal.i18n import N_, _, get_locale

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

MAX_LENGTH = "max_length"  # the dataclass field's metadata key
TOO_LONG = N_("Ce champ ne peut pas dépasser %(limit)s caractères.")
# Search boxes, autocompletes and list filters given in the address.
SEARCH_MAX_LENGTH = 200
# Generous for a passphrase; a megabyte of password never reaches argon2 (``portal.accounts.passwords``).
PASSWORD_MAX_LENGTH = 1024
EMAIL_MAX_LENGTH = 320  # RFC 5321: 64 + 1 + 255, rounded as everyone does
NAME_MAX_LENGTH = 200
DATE_MAX_LENGTH = 20  # JJ/MM/AAAA typed with room for spaces (or AAAA-MM-JJ from a date input)
# API keys and tokens pasted (never shown again): long enough for a JWT.
SECRET_MAX_LENGTH = 4096
NEXT_MAX_LENGTH = 2000  # a path of the portal to come back to (``suivant``, ``retour``)
# Choices (select, radio, checkbox, hidden ids) are checked against their options; this only bounds them.
CHOICE_MAX_LENGTH = 100
URL_ENCODED = b"application/x-www-form-urlencoded"

F = TypeVar("F", bound="DataclassInstance")
P = ParamSpec("P")


class Checked(Protocol):
    """What a form's validation returns: clean values, or None and the errors by field."""

    values: Any
    errors: dict[str, str]


R = TypeVar("R", bound=Checked)


def text(limit: int, default: str = "") -> Any:
    """A text field of a form dataclass, of at most ``limit`` characters."""
    return dataclasses.field(default=default, metadata={MAX_LENGTH: limit})


def too_long(limit: int) -> str:
    """The field's message, in the person's language (``1 024``, not ``1024``, in French)."""
    return _(TOO_LONG) % {"limit": format_decimal(limit, locale=get_locale())}


def limits(form: type[DataclassInstance] | DataclassInstance) -> dict[str, int]:
    """Each field's maximum length; a field declared without one is a programming error."""
    found = {}
    for item in dataclasses.fields(form):
        if MAX_LENGTH not in item.metadata:
            message = f"{item.name} of {form} has no maximum length: declare it with forms.text(limit)"
            raise TypeError(message)
        found[item.name] = int(item.metadata[MAX_LENGTH])
    return found


def clip(form: DataclassInstance) -> dict[str, str]:
    """Cut every text field of ``form`` to its limit, in place; the message of each field that was longer."""
    errors = {}
    for name, limit in limits(form).items():
        value = getattr(form, name)
        if not isinstance(value, str):  # a form posted as multipart may bring a file where text was expected
            value = "" if isinstance(value, UploadFile) else str(value)
            setattr(form, name, value)
        if len(value) > limit:
            setattr(form, name, value[:limit])
            errors[name] = too_long(limit)
    return errors


def length_checked(validate: Callable[Concatenate[F, P], R]) -> Callable[Concatenate[F, P], R]:
    """Check a form's lengths before ``validate`` runs; a field too long keeps that message and nothing is valid.

    The validation runs on the cut values, so the other fields still get their own messages.
    """

    def checked(form: F, /, *args: P.args, **kwargs: P.kwargs) -> R:
        errors = clip(form)
        result = validate(form, *args, **kwargs)
        if errors:
            result.errors.update(errors)
            result.values = None
        return result

    functools.update_wrapper(checked, validate)
    return checked


def read(form_class: type[F], posted: Mapping[str, Any]) -> tuple[F, dict[str, str]]:
    """A form read by hand (``await request.form()``): its fields as text, cut to their limits, and the messages."""
    form = form_class(**{name: _first(posted.get(name, "")) for name in limits(form_class)})
    return form, clip(form)


def _first(value: Any) -> str:
    if isinstance(value, list):  # a field sent twice: the first, as ``FormMultiDict.get`` reads it
        value = value[0] if value else ""
    return "" if isinstance(value, UploadFile) else str(value)


def query_text(value: str, limit: int = SEARCH_MAX_LENGTH) -> str:
    """A search or filter from the address, cut to ``limit``: it is answered, and shown, no longer than that."""
    return value[:limit]


class FormSizeLimit:
    """Refuse a urlencoded body larger than ``max_bytes`` with 413, before the form is parsed.

    Routes that receive files keep their own, larger limit for multipart bodies only: a form
    without a file never needs more than this. The announced length is checked first, then the
    bytes as they arrive (a chunked body announces none).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _is_url_encoded(scope):
            await self.app(scope, receive, send)
            return
        announced = dict(scope["headers"]).get(b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.max_bytes:
            raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        received = 0

        async def counted() -> ReceiveMessage:
            nonlocal received
            message = await receive()
            body = message.get("body", b"")
            received += len(body) if isinstance(body, bytes) else 0
            if received > self.max_bytes:
                raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
            return message

        await self.app(scope, counted, send)


def _is_url_encoded(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    return content_type.split(b";", 1)[0].strip().lower() == URL_ENCODED


def form_size_limit(max_bytes: int) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory, for ``Litestar(middleware=[...])``."""

    def middleware(app: ASGIApp) -> ASGIApp:
        return FormSizeLimit(app, max_bytes)

    return middleware
