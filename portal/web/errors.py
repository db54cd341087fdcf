"""Friendly error pages (HTML), JSON for machine routes, sign-in redirect for anonymous visitors."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from portal.auth.policy import Principal
from portal.i18n import gettext as _
from portal.i18n import set_locale
from portal.web.context import choose_locale
from portal.web.forms import NEXT_MAX_LENGTH

log = logging.getLogger(__name__)

_JSON_PREFIXES = ("/healthz", "/api/")


def _in_their_language(request: Request[Any, Any, Any]) -> None:
    """A guard's refusal comes before the request's context is set: answer in the person's language all the same."""
    user = request.scope.get("user")
    set_locale(choose_locale(request, user if isinstance(user, Principal) else None))


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith(_JSON_PREFIXES)


def _page(
    request: Request[Any, Any, Any], status: int, title: str, message: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    if _wants_json(request):
        return Response(
            {"status": status, "detail": message}, status_code=status, media_type=MediaType.JSON, headers=headers
        )
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": title, "message": message},
        status_code=status,
        headers=headers,
    )


def _carries_files(request: Request[Any, Any, Any]) -> bool:
    """Only a multipart body brings files (FEC, receipts); any other body is a form."""
    return request.headers.get("content-type", "").lower().startswith("multipart/")


def not_authorized(request: Request[Any, Any, Any], _exc: NotAuthorizedException) -> Response[Any]:
    _in_their_language(request)
    if _wants_json(request):
        return _page(request, 401, _("Connexion requise"), _("Connectez-vous pour continuer."))
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if len(target) > NEXT_MAX_LENGTH:  # the way back is not worth echoing a huge address
        target = request.url.path[:NEXT_MAX_LENGTH]
    location = "/connexion?suivant=" + quote(target, safe="/")
    if request.headers.get("hx-request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": location})
    return Redirect(location)


def permission_denied(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    _in_their_language(request)
    if "csrf" in str(exc.detail).lower():
        return _page(
            request,
            403,
            _("Formulaire expiré"),
            _("Ce formulaire a expiré ou ne vient pas du portail. Rechargez la page et réessayez."),
        )
    return _page(request, 403, _("Accès refusé"), _("Vous n'avez pas accès à cette page."))


def not_found(request: Request[Any, Any, Any], _exc: NotFoundException) -> Response[Any]:
    _in_their_language(request)
    return _page(request, 404, _("Page introuvable"), _("Cette page n'existe pas ou vous n'y avez pas accès."))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    _in_their_language(request)
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE and _carries_files(request):
        return _page(
            request,
            exc.status_code,
            _("Fichier trop volumineux"),
            _("Le fichier envoyé dépasse la taille maximale acceptée : rien n'a été enregistré."),
        )
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return _page(
            request,
            exc.status_code,
            _("Formulaire trop volumineux"),
            _("Le formulaire envoyé dépasse la taille maximale acceptée : rien n'a été enregistré."),
        )
    return _page(request, exc.status_code, _("Requête refusée"), _("La requête n'a pas pu être traitée."))


# PostgreSQL's lock_not_available: a lock wait reached ``lock_timeout``.
_LOCK_NOT_AVAILABLE = "55P03"


def _is_busy(exc: Exception) -> bool:
    """A wait that reached its bound: a pooled connection, a PostgreSQL row lock, SQLite's write lock."""
    if isinstance(exc, PoolTimeoutError):
        return True
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE or "database is locked" in str(orig)


def database_error(request: Request[Any, Any, Any], exc: SQLAlchemyError) -> Response[Any]:
    """The database was too busy to answer in time: 503, try again (the request's transaction is rolled back)."""
    _in_their_language(request)
    if not _is_busy(exc):
        return server_error(request, exc)
    log.warning("database busy on %s %s: %s", request.method, request.url.path, exc)
    return _page(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        _("Portail très sollicité"),
        _("Le portail est très sollicité en ce moment. Réessayez dans quelques instants."),
        headers={"Retry-After": "5"},
    )


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    _in_their_language(request)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _page(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        _("Erreur inattendue"),
        _(
            "Une erreur inattendue s'est produite. L'équipe technique peut la retrouver grâce à l'identifiant de la requête."  # noqa: E501 - one translatable message, kept whole so it matches the catalogue
        ),
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotAuthorizedException: not_authorized,
    PermissionDeniedException: permission_denied,
    NotFoundException: not_found,
    HTTPException: http_error,
    PoolTimeoutError: database_error,
    DBAPIError: database_error,
    HTTP_500_INTERNAL_SERVER_ERROR: server_error,
}
