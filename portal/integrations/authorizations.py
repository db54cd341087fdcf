"""Authorisations a person started at an outside service and has not finished yet (OAuth callbacks).

The ``state`` and the PKCE verifier of each authorisation stay in the person's server-side
session, keyed by the state, never in the browser; a callback takes its state out whatever
happens next, so a state is spent once. Several tabs may be half-way at once: the oldest are
dropped beyond a few. Pennylane and the POS / e-commerce sources share this, the page
that says a callback failed, and the way back itself: each describes its consent as a
``Consent`` (where it comes back, what it keeps, how it finishes, what it does with the
token) and mounts a ``ConsentCallbackController`` subclass providing it as ``consent``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, ClassVar

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Response, Template

from portal.auth.guards import principal_of, signed_in
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.clients.models import Dossier
from portal.clients.services import DossierService
from portal.i18n import N_
from portal.integrations import oauth
from portal.integrations.errors import SourceError
from portal.settings import Settings

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


class Consent:
    """One provider's consent, from « Connecter » to its callback.

    ``path`` is the one fixed address the provider sends the person back to (registered with
    it), ``session_key`` where the authorisations started stay. A subclass says how the
    authorisation finishes (``finish``) and what the portal does with the token (``connected``).
    """

    path: ClassVar[str]
    session_key: ClassVar[str]
    provider: ClassVar[oauth.OAuthProvider]
    refusals: ClassVar[type[SourceError]]  # the errors that end on the failure page
    denied: ClassVar[str | None] = None  # said at once when the callback carries ``error`` (else finish says it)

    @classmethod
    def redirect_uri(cls, settings: Settings) -> str:
        return settings.base_url + cls.path

    @classmethod
    def begin(cls, request: Request[Any, Any, Any], start: oauth.AuthorizationStart, dossier: Dossier,
              **kept: str) -> Redirect:  # fmt: skip
        """Keep the authorisation just started in the session, and send the person to the provider."""
        remember(request.session, cls.session_key, start.state, dossier=str(dossier.id), verifier=start.code_verifier,
                 **kept)  # fmt: skip
        return Redirect(start.url, status_code=303)

    async def dossier(self, dossiers: DossierService, principal: Principal, dossier_id: uuid.UUID) -> Dossier:
        """The dossier the authorisation was started for, if the person may still connect it."""
        return await dossiers.get_visible(principal, dossier_id, Permission.CONNECTIONS_MANAGE)

    def source_name(self, started: dict[str, str]) -> str | None:  # noqa: ARG002 - a subclass may read it
        """The source's name on the failure page, when the page should say it."""
        return None

    async def finish(self, settings: Settings, **callback: Any) -> dict[str, Any]:
        return await oauth.finish_authorization(self.provider, settings, **callback)

    async def connected(
        self, request: Request[Any, Any, Any], principal: Principal, dossier: Dossier, started: dict[str, str],
        token: dict[str, Any],
    ) -> Response[Any]:  # fmt: skip
        """Store the token and say where the person goes next."""
        raise NotImplementedError


class ConsentCallbackController(Controller):
    """Where a provider sends the person back; a subclass sets ``path`` and provides ``consent``."""

    guards = (signed_in,)
    include_in_schema = False

    @get("/")
    async def callback(
        self,
        request: Request[Any, Any, Any],
        *,
        settings: NamedDependency[Settings],
        dossiers: NamedDependency[DossierService],
        consent: NamedDependency[Consent],
        oauth_state: Annotated[str, QueryParameter(name="state")] = "",
        oauth_error: Annotated[str, QueryParameter(name="error")] = "",
    ) -> Any:
        principal = principal_of(request)
        started = take(request.session, consent.session_key, oauth_state)
        if started is None:
            return callback_error(STATE_MISMATCH)
        dossier = await consent.dossier(dossiers, principal, uuid.UUID(started["dossier"]))
        source_name = consent.source_name(started)
        if oauth_error and consent.denied:
            return callback_error(consent.denied, dossier=dossier, source_name=source_name)
        try:
            token = await consent.finish(
                settings, redirect_uri=consent.redirect_uri(settings), authorization_response=str(request.url),
                expected_state=oauth_state, code_verifier=started["verifier"],
            )  # fmt: skip
        except consent.refusals as refused:
            return callback_error(refused.message, dossier=dossier, source_name=source_name)
        return await consent.connected(request, principal, dossier, started, token)
