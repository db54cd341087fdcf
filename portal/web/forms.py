"""Posted forms: typed dataclasses decoded by Litestar, every text field bounded, one way to say what is wrong.

**Declaring a form.** A form is a dataclass whose every field is declared here: ``text(200)``
(one value, at most 200 characters), ``texts(100)`` (a value repeated: checkboxes, pickers;
each cut to its limit, silently). A controller receives it decoded::

    @post("/", ...)
    async def create(self, data: Annotated[DossierForm, forms.POSTED]) -> Any:
        checked = schemas.validate(data)  # a ``@forms.length_checked`` function
        if checked.values is None:       # the same form again, with what was typed and the messages
            return Template("clients/form.html", context={"form": data, "errors": checked.errors}, status_code=422)

A form whose body may carry files is a dependency instead, decoded the same way from either
encoding (a browser sends a form without a chosen file urlencoded, which a multipart ``Body``
would refuse): ``dependencies={"posted": forms.upload(ExpenseLineForm)}`` gives an ``Upload``
with the decoded ``form`` and its ``files``. A form without validation of its own checks its
lengths with ``clip(data)``. A form whose field names are not known in advance (the mapping
screen: one field per journal, payment method…) is received as ``Fields``, every field posted as
text, for its own reading to bound and check.

**Decoding never refuses.** ``FormDecoding`` (a serialization plugin of the app) decodes every
form dataclass through ``FormDTO``, as the browser sends it: a field sent twice keeps its first
value, a file where text was expected is empty text, a field not sent keeps its default, fields
the form does not declare are ignored. So Litestar never answers a malformed body with its bare
400: the handler always gets its form, and its validation says what is wrong, beside the field.

**Where the messages come from.** A validation function decorated with ``length_checked``
returns a ``Checked`` (clean values, or None and one message id per field). The limits are
checked **before** any validation: a value over its limit is cut to it, so a page showing the
form again never echoes more than the limit (a 10 Mo name would come back whole otherwise), and
the field gets ``TOO_LONG``, in the person's language; the other fields still get their own
messages. Messages are French message ids (``N_``), translated where the template shows them
beside their field (the ``field_error`` macro of ``templates/_macros/ui.html``).
Dates typed in a form are read by ``parse_date`` (JJ/MM/AAAA, or AAAA-MM-JJ from a date input).

**Sizes.** The templates' ``maxlength`` say the same as the declarations. Search boxes and other
query parameters are cut the same way (``query_text``), silently: a search answers, it does not
refuse. A urlencoded body larger than ``Settings.form_max_bytes`` is refused with 413 before it
is read (``FormSizeLimit``), whatever the route's own limit for uploads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from babel.numbers import format_decimal
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.dto import DataclassDTO
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import HTTPException
from litestar.params import Body
from litestar.plugins import SerializationPlugin
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from portal.i18n import NP_, get_locale, ngettext

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from litestar.dto import AbstractDTO
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
    from litestar.typing import FieldDefinition

MAX_LENGTH = "max_length"  # the dataclass field's metadata key
REPEATED = "repeated"  # metadata: the field keeps every value sent (``texts``)
# How a handler receives a form: ``data: Annotated[MyForm, forms.POSTED]``.
POSTED = Body(media_type=RequestEncodingType.URL_ENCODED)
TOO_LONG = NP_(
    "Ce champ ne peut pas dépasser %(limit)s caractère.", "Ce champ ne peut pas dépasser %(limit)s caractères."
)
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

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_FRENCH_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")

F = TypeVar("F", bound="DataclassInstance")
T = TypeVar("T")
P = ParamSpec("P")


class Validated(Protocol):
    """What a form's validation returns: clean values, or None and the errors by field."""

    values: Any
    errors: dict[str, str]


R = TypeVar("R", bound=Validated)


@dataclasses.dataclass
class Checked(Generic[T]):
    """A form's validation: its clean values, or None and one message id per wrong field."""

    values: T | None = None
    errors: dict[str, str] = dataclasses.field(default_factory=dict)


def text(limit: int, default: str = "") -> Any:
    """A text field of a form dataclass, of at most ``limit`` characters."""
    return dataclasses.field(default=default, metadata={MAX_LENGTH: limit})


def texts(limit: int) -> Any:
    """A field sent any number of times (checkboxes, a multiple picker): each value cut to ``limit``, silently."""
    return dataclasses.field(default_factory=list, metadata={MAX_LENGTH: limit, REPEATED: True})


def parse_date(value: str) -> dt.date | None:
    """A date typed in a form: ``JJ/MM/AAAA`` (``/``, ``.`` or ``-`` between) or ``AAAA-MM-JJ`` (a date input)."""
    value = value.strip()
    iso, french = _ISO_DATE.fullmatch(value), _FRENCH_DATE.fullmatch(value)
    if iso:
        year, month, day = iso.groups()
    elif french:
        day, month, year = french.groups()
    else:
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def too_long(limit: int) -> str:
    """The field's message, in the person's language (``1 024``, not ``1024``, in French)."""
    return ngettext(*TOO_LONG, limit) % {"limit": format_decimal(limit, locale=get_locale())}


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
    repeated = {item.name for item in dataclasses.fields(form) if item.metadata.get(REPEATED)}
    for name, limit in limits(form).items():
        value = getattr(form, name)
        if name in repeated:  # a choice among many: a value too long is one that matches no option
            setattr(form, name, [_text(item)[:limit] for item in value])
            continue
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
    """A form read from a mapping of posted values: every field as text (absent: empty), cut, and the messages."""
    absent = {item.name: [] if item.metadata.get(REPEATED) else "" for item in dataclasses.fields(form_class)}
    form = decode(form_class, {name: posted.get(name, empty) for name, empty in absent.items()})
    return form, clip(form)


@dataclasses.dataclass
class Fields:
    """A form whose field names are not known in advance: every field posted (its first value, as text)."""

    values: dict[str, str] = dataclasses.field(default_factory=dict)


def decode(form_class: type[F], posted: Mapping[str, Any]) -> F:
    """The form as the browser sent it, never refused: see the module's docstring."""
    if form_class is Fields:
        return Fields({name: _first(value) for name, value in posted.items()})  # type: ignore[return-value]
    values: dict[str, Any] = {}
    for item in dataclasses.fields(form_class):
        if item.name not in posted:
            continue
        value = posted[item.name]
        if item.metadata.get(REPEATED):
            values[item.name] = [_text(one) for one in (value if isinstance(value, list) else [value])]
        else:
            values[item.name] = _first(value)
    return form_class(**values)


def _first(value: Any) -> str:
    if isinstance(value, list):  # a field sent twice: the first, as ``FormMultiDict.get`` reads it
        value = value[0] if value else ""
    return _text(value)


def _text(value: Any) -> str:
    return "" if isinstance(value, UploadFile) else str(value)


class FormDTO(DataclassDTO[F]):
    """Litestar's decoding of a form dataclass, by ``decode``: a malformed body still gives the form."""

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        return decode(self.model_type, value)


def is_form(annotation: Any) -> bool:
    """A dataclass declared with this module's fields (``text``, ``texts``), or ``Fields``."""
    return annotation is Fields or (
        isinstance(annotation, type)
        and dataclasses.is_dataclass(annotation)
        and any(MAX_LENGTH in item.metadata for item in dataclasses.fields(annotation))
    )


class FormDecoding(SerializationPlugin):
    """Every handler's form dataclass is decoded by ``FormDTO``: the app's plugin."""

    def supports_type(self, field_definition: FieldDefinition) -> bool:
        return is_form(field_definition.annotation)

    def create_dto_for_type(self, field_definition: FieldDefinition) -> type[AbstractDTO[Any]]:
        return FormDTO[field_definition.annotation]  # type: ignore[name-defined]


@dataclasses.dataclass
class Upload(Generic[F]):
    """A form that may carry files: its fields decoded as any form's, and the files by field name."""

    form: F
    files: dict[str, UploadFile]

    def file(self, name: str) -> UploadFile | None:
        """The file chosen for ``name``: None when none was (an empty file input sends no name)."""
        upload = self.files.get(name)
        return upload if upload is not None and upload.filename else None


def upload(form_class: type[F]) -> Provide:
    """The dependency giving a handler its ``Upload``: multipart with files, or urlencoded when none was chosen."""

    async def provide(request: Request[Any, Any, Any]) -> Upload[F]:
        posted = await request.form()
        files: dict[str, UploadFile] = {}
        for name, value in posted.multi_items():
            if isinstance(value, UploadFile):
                files.setdefault(name, value)
        return Upload(decode(form_class, posted.dict()), files)

    return Provide(provide)


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
