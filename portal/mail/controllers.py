"""The development mail page: the local outbox, read in the browser (``/dev/courriels``).

Registered only when ``Settings.mail_page_dir`` is set (``PORTAL_DEV_MAIL_PAGE=1``, which
``portal run --demo`` sets): elsewhere the path does not exist (404). Administrators only.
The HTML part is shown in a sandboxed frame (no scripts, no same origin) and as escaped
source, never as part of the portal's page. The frame loads it from a route of its own
(``/dev/courriels/apercu``) with a policy of its own: an email's styles are inline
(``style="…"``), which the portal's Content-Security-Policy forbids, and a ``srcdoc`` frame
inherits its parent's policy (the styles were dropped, each with a CSP error). That policy
allows inline styles and nothing else (no script, no request, no form), sandboxes the
document, and lets only the portal's own pages frame it. Links that carry a secret (an invitation's, a
password reset's: a token in the path or the query) are masked for everyone: the page is a
development aid, and only the recipient's own mailbox holds a link that works.
"""

from __future__ import annotations

import anyio
from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import Template

from portal.auth.guards import requires
from portal.auth.permissions import Permission
from portal.mail.transport import StoredMessage, list_messages, read_message
from portal.settings import Settings
from portal.web.redaction import redact_text

PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; sandbox"
)
"""The email preview's own Content-Security-Policy: inline styles only, framed by the portal's pages alone."""


async def _stored(settings: Settings, message: str) -> StoredMessage:
    directory = settings.mail_page_dir
    if directory is None or not message:
        raise NotFoundException
    stored = await anyio.to_thread.run_sync(read_message, directory, message)
    if stored is None:
        raise NotFoundException
    return stored


class DevMailController(Controller):
    path = "/dev/courriels"
    include_in_schema = False
    guards = (requires(Permission.USERS_MANAGE),)

    @get("/", name="dev:mail", media_type=MediaType.HTML)
    async def index(self, settings: NamedDependency[Settings], message: FromQuery[str] = "") -> Template:
        directory = settings.mail_page_dir
        if directory is None:
            raise NotFoundException
        if message:
            stored = await _stored(settings, message)
            text, html = stored.part("plain"), stored.part("html")
            context = {
                "stored": stored,
                "text": redact_text(text) if text else text,
                "html": redact_text(html) if html else html,
            }
            return Template(template_name="dev/mail_message.html", context=context)
        messages = await anyio.to_thread.run_sync(list_messages, directory)
        return Template(template_name="dev/mail.html", context={"messages": messages, "directory": directory})

    @get("/apercu", name="dev:mail_preview", media_type=MediaType.HTML)
    async def preview(self, settings: NamedDependency[Settings], message: FromQuery[str] = "") -> Response[str]:
        """The HTML part of one email, links carrying a token masked, for the message page's frame only."""
        html = (await _stored(settings, message)).part("html")
        if not html:
            raise NotFoundException
        return Response(
            redact_text(html),
            media_type=MediaType.HTML,
            headers={
                "Content-Security-Policy": PREVIEW_POLICY,
                "X-Frame-Options": "SAMEORIGIN",
                "Referrer-Policy": "no-referrer",
            },
        )
