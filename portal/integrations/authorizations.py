"""Authorisations a person started at an outside service and has not finished yet (OAuth callbacks).

The ``state`` and the PKCE verifier of each authorisation stay in the person's server-side
session, keyed by the state, never in the browser; a callback takes its state out whatever
happens next, so a state is spent once. Several tabs may be half-way at once: the oldest are
dropped beyond a few. Pennylane and the POS / e-commerce sources share this, and the page
that says a callback failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.response import Template

from portal.clients.models import Dossier
from portal.i18n import N_

MAX_PENDING = 5
STATE_MISMATCH = N_(
    "Cette autorisation ne correspond à aucune demande de ce navigateur, ou elle a expiré. "
    "Recommencez depuis la page Connexions du dossier."
)


def remember(session: dict[str, Any], key: str, state: str, **started: str) -> None:
    """Keep an authorisation just started (its dossier, verifier…) under its ``state``."""
    pending = dict(session.get(key) or {})
    pending[state] = {**started, "at": dt.datetime.now(dt.UTC).isoformat()}
    session[key] = dict(list(pending.items())[-MAX_PENDING:])


def take(session: dict[str, Any], key: str, state: str) -> dict[str, str] | None:
    """The authorisation started under ``state``, spent now; None when this browser started none."""
    pending = dict(session.get(key) or {})
    started = pending.pop(state, None) if state else None
    session[key] = pending
    return started


def callback_error(message: str, *, dossier: Dossier | None = None, source_name: str | None = None) -> Template:
    """The page saying why a connection did not go through (400), with the way back to the dossier."""
    context = {"message": message, "dossier": dossier, "source_name": source_name}
    return Template(template_name="integrations/callback_error.html", context=context, status_code=400)
