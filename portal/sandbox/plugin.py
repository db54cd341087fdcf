"""The local stand-ins of Pennylane and the POS / e-commerce sources (make run, tests): never served in production."""

from __future__ import annotations

from portal.domain import Domain
from portal.sandbox import sandbox_router

plugin = Domain(name="sandbox", routes=lambda settings: [sandbox_router(settings)] if settings.sandbox else [])
