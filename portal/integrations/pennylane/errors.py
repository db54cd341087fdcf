"""What can go wrong with Pennylane, in words for the accountant.

``message`` is a French msgid (marked with ``N_``), translated where it is shown;
``detail`` is for the logs (status, body excerpt) and never holds a token.
"""

from __future__ import annotations

from portal.i18n import N_
from portal.integrations.errors import SourceError


class PennylaneError(SourceError):
    default_message = N_("Pennylane n'a pas pu répondre à la demande.")


class AuthorizationError(PennylaneError):
    """The connection could not be made: refused on Pennylane, a stale or forged answer, a spent code."""

    default_message = N_("La connexion à Pennylane n'a pas abouti. Recommencez.")


class AuthorizationLost(PennylaneError):  # noqa: N818 - named for what the caller reacts to
    """The connection no longer works (revoked, expired, refresh refused): it must be made again."""

    default_message = N_("L'autorisation Pennylane a expiré ou a été révoquée : reconnectez Pennylane.")


class MissingScope(PennylaneError):  # noqa: N818 - named for what the caller reacts to
    """The authorization does not cover what was asked (403): reconnect with the rights the portal needs."""

    default_message = N_(
        "L'autorisation Pennylane ne couvre pas cette donnée : reconnectez Pennylane en accordant les droits demandés."
    )


class RateLimited(PennylaneError):  # noqa: N818 - named for what the caller reacts to
    """Still limited after the client's own waits and retries; ``retry_after`` seconds, when known."""

    default_message = N_("Pennylane limite le nombre de requêtes : nouvel essai dans quelques minutes.")

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, detail: str = "") -> None:
        super().__init__(message, detail=detail, status=429)
        self.retry_after = retry_after
