"""Documents printed as PDF: a Jinja template under ``templates/`` rendered by WeasyPrint.

WeasyPrint is blocking and CPU-bound: ``render_pdf`` runs it in a worker thread, never on
the event loop. It never reaches the network: its URL fetcher serves the portal's own
static files (relative URLs resolve against ``static/``) and ``data:`` URLs, and refuses
anything else (``http(s)://``, other local files), which WeasyPrint then leaves out with a
warning. Fonts are the machine's (fontconfig): the templates ask for DejaVu, which Debian
ships (``fonts-dejavu-core``), so nothing is downloaded. Pages are A4 as the templates'
``@page`` rules say; dates and numbers are French unless another locale is asked for.

WeasyPrint is imported when a document is first printed, so importing this module (and
starting the portal) does not need Pango.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from portal.i18n import get_locale, install_gettext, local_date, local_datetime, number, set_locale
from portal.settings import FIRM_TIMEZONE, Settings
from portal.web.templating import cents, money

if TYPE_CHECKING:
    from weasyprint.urls import URLFetcher


class RefusedResourceError(ValueError):
    """A document asked for something outside the portal's static files: never fetched."""


def long_date(value: dt.date | dt.datetime | None) -> str:
    """« 7 décembre 2026 »."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(FIRM_TIMEZONE).date()
    return format_date(value, "d MMMM y", locale=get_locale())


def euros(value: Decimal | int | None, *, digits: int = 0) -> str:
    """An amount in euros (a ``Decimal``), French-formatted: ``12 345 €`` (``digits`` decimals)."""
    if value is None:
        return "—"
    pattern = "#,##0 ¤" if digits == 0 else "#,##0." + "0" * digits + " ¤"
    return format_currency(Decimal(value), "EUR", format=pattern, locale=get_locale(), currency_digits=False)


def decimal(value: Decimal | int | None, *, digits: int = 1) -> str:
    """A number with ``digits`` decimals (rates, days): ``12,5``; ``—`` when there is none."""
    if value is None:
        return "—"
    return format_decimal(Decimal(value), format="#,##0." + "0" * digits, locale=get_locale())


@cache
def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install_gettext(env)
    env.filters.update(
        date=local_date, datetime=local_datetime, long_date=long_date, cents=cents, number=number, euros=euros,
        decimal=decimal, money=money,
    )  # fmt: skip
    return env


@contextmanager
def _in_locale(locale: str) -> Iterator[None]:
    previous = get_locale()
    set_locale(locale)
    try:
        yield
    finally:
        set_locale(previous)


def render_html(settings: Settings, template: str, *, locale: str = "fr", **context: Any) -> str:
    """The HTML of ``templates/<template>`` in ``locale``, with the document filters."""
    with _in_locale(locale):
        return _environment(settings.templates_dir).get_template(template).render(**context, locale=locale)


def _weasyprint() -> Any:
    """WeasyPrint, imported with Pillow kept strict.

    Importing WeasyPrint sets Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` for the whole process, after which
    Pillow decodes truncated or malformed images instead of refusing them: the receipts' content check
    (``portal.expenses.receipts``) would then see a different Pillow in a process that has printed a report.
    The portal's documents draw no raster image of unknown origin, so the default is put back.
    """
    import weasyprint  # noqa: PLC0415 - needs Pango: only when printing
    from PIL import ImageFile  # noqa: PLC0415

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return weasyprint


def static_only_fetcher(static_dir: Path) -> URLFetcher:
    """A WeasyPrint URL fetcher that serves files under ``static_dir`` and ``data:`` URLs, and nothing else."""
    _weasyprint()
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: PLC0415 - needs Pango: only when printing

    root = static_dir.resolve()

    class StaticOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            scheme = url.partition(":")[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlsplit(url).path)).resolve()
                if path.is_relative_to(root) and path.is_file():
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": kind}, status=200)
            raise RefusedResourceError(f"ressource refusée dans un document : {url[:200]}")

    return StaticOnly(allowed_protocols={"data", "file"}, allow_redirects=False)


def layout(html: str, static_dir: Path) -> Any:
    """``html`` laid out by WeasyPrint (blocking), relative URLs resolved against ``static_dir``, the only files
    it may read: a ``weasyprint.Document`` whose pages can be printed all at once or in parts (``copy``)."""
    fetcher = static_only_fetcher(static_dir)
    html_document = _weasyprint().HTML(string=html, base_url=static_dir.resolve().as_uri() + "/", url_fetcher=fetcher)
    return html_document.render()


def html_to_pdf(html: str, static_dir: Path) -> bytes:
    """Print ``html`` (blocking): relative URLs resolve against ``static_dir``, the only files it may read."""
    pdf: bytes = layout(html, static_dir).write_pdf()
    return pdf


def _print(settings: Settings, template: str, locale: str, context: dict[str, Any]) -> bytes:
    return html_to_pdf(render_html(settings, template, locale=locale, **context), settings.static_dir)


async def render_pdf(settings: Settings, template: str, *, locale: str = "fr", **context: Any) -> bytes:
    """``templates/<template>`` printed as PDF bytes, in a worker thread (the event loop goes on meanwhile)."""
    return await anyio.to_thread.run_sync(partial(_print, settings, template, locale, context))
