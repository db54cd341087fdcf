"""Email: the local outbox's reading page, in development only (else: 404)."""

from __future__ import annotations

from portal.domain import Domain
from portal.mail.controllers import DevMailController

plugin = Domain(
    name="mail",
    routes=lambda settings: [DevMailController] if settings.mail_page_dir is not None else [],
)
