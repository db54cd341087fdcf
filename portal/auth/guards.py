"""Litestar guards built from the permission model."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from portal.auth.permissions import Permission
from portal.auth.policy import Principal

PUBLIC = {"exclude_from_auth": True}
"""Route ``opt`` for the few pages open without signing in."""


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException
    return user


def requires(*permissions: Permission) -> Guard:
    """Guard: the signed-in person must hold every one of ``permissions`` firm-wide."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not all(principal.can(permission) for permission in permissions):
            raise PermissionDeniedException

    guard.permissions = permissions  # type: ignore[attr-defined]
    return guard


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard: any signed-in person (the page restricts its own rows)."""
    principal_of(connection)


signed_in.permissions = ()  # type: ignore[attr-defined]


def requires_somewhere(permission: Permission) -> Guard:
    """Guard: ``permission`` firm-wide or on at least one dossier; the page restricts its own rows."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        if not principal_of(connection).can_somewhere(permission):
            raise PermissionDeniedException

    guard.permissions = (permission,)  # type: ignore[attr-defined]
    return guard
