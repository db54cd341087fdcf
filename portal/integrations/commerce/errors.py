"""What can go wrong with a POS or e-commerce source, in words for the accountant.

``message`` is a French msgid (marked with ``N_``) without placeholders, so that it can be
stored (``last_error``) and translated where it is shown, as the Pennylane errors are; the
page around it names the source. ``source`` is the source's name and ``detail`` is for the
logs (status, body excerpt); neither holds a key or a token.

What the caller does next follows the class: ``AuthorizationLost`` stops the connection
until someone connects it again; ``SourceUnavailable`` (and ``RateLimited``) is retried
later, the data will come; any other ``CommerceError`` is a fault to look at.
"""

from __future__ import annotations

from portal.i18n import N_
from portal.integrations.errors import SourceError


class CommerceError(SourceError):
    default_message = N_("La source n'a pas pu répondre à la demande.")
    retryable = False


class AuthorizationError(CommerceError):
    """The connection could not be made: refused at the source, a stale or forged answer, a spent code."""

    default_message = N_("La connexion à la source n'a pas abouti. Recommencez.")


class AuthorizationLost(CommerceError):  # noqa: N818 - named for what the caller reacts to
    """The connection no longer works (key revoked, token expired or revoked, refresh refused): connect again."""

    default_message = N_("L'accès à la source a expiré ou a été retiré : reconnectez-la.")


class SourceUnavailable(CommerceError):  # noqa: N818 - named for what the caller reacts to
    """The source failed or did not answer (5xx, timeout, network): try again later."""

    default_message = N_("La source ne répond pas pour le moment. Nouvel essai plus tard.")
    retryable = True


class RateLimited(SourceUnavailable):
    """Still limited after the client's own waits and retries; ``retry_after`` seconds, when known."""

    default_message = N_("La source limite le nombre de requêtes : nouvel essai dans quelques minutes.")

    def __init__(
        self, message: str | None = None, *, source: str = "", retry_after: float | None = None, detail: str = ""
    ) -> None:
        super().__init__(message, source=source, detail=detail, status=429)
        self.retry_after = retry_after
