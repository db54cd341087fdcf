"""The firm space's main menu, filtered by what the signed-in person may open."""

from __future__ import annotations

from dataclasses import dataclass

from portal.auth.permissions import Permission
from portal.i18n import N_
from portal.web.context import current_principal


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    permission: Permission | None = None


MAIN_MENU = (
    NavItem(N_("Entreprises"), "/entreprises"),
    NavItem(N_("Facturation"), "/facturation", Permission.BILLING_CLIENTS_READ),
    NavItem(N_("Utilisateurs"), "/utilisateurs", Permission.USERS_READ),
    NavItem(N_("Paramètres"), "/parametres", Permission.SETTINGS_READ),
)


def navigation() -> list[NavItem]:
    principal = current_principal()
    if principal is None:
        return []
    return [item for item in MAIN_MENU if item.permission is None or principal.can(item.permission)]
