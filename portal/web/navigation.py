"""The firm space's main menu, filtered by what the signed-in person may open."""

from __future__ import annotations

from dataclasses import dataclass

from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole
from portal.i18n import N_
from portal.web.context import current_principal


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    permission: Permission | None = None
    # The permission may be held on a single dossier (an Employé files expense notes).
    on_a_dossier: bool = False
    # Or this one instead (approvers open Notes de frais without filing any).
    or_permission: Permission | None = None
    # Shown only to people holding this role on some dossier.
    dossier_role: DossierRole | None = None

    def shown_to(self, principal: Principal) -> bool:
        if self.dossier_role is not None and not principal.dossiers_as(self.dossier_role):
            return False
        if self.permission is None:
            return True
        held = principal.can_somewhere if self.on_a_dossier else principal.can
        return held(self.permission) or (self.or_permission is not None and held(self.or_permission))


MAIN_MENU = (
    NavItem(N_("Accueil"), "/"),
    NavItem(N_("Entreprises"), "/entreprises"),
    NavItem(N_("Mes dossiers"), "/entreprises/mes-dossiers", dossier_role=DossierRole.ACCOUNTANT),
    # Partners and admins firm-wide, a Comptable on their dossiers: the page lists what each may read.
    NavItem(N_("Portefeuille"), "/portefeuille", Permission.KPI_READ, on_a_dossier=True),
    NavItem(
        N_("Notes de frais"),
        "/notes-de-frais",
        Permission.EXPENSES_FILE,
        on_a_dossier=True,
        or_permission=Permission.EXPENSES_APPROVE,
    ),
    NavItem(N_("Facturation"), "/facturation", Permission.BILLING_CLIENTS_READ),
    NavItem(N_("Utilisateurs"), "/utilisateurs", Permission.USERS_READ),
    NavItem(N_("Paramètres"), "/parametres", Permission.SETTINGS_READ),
)


def navigation() -> list[NavItem]:
    principal = current_principal()
    if principal is None:
        return []
    return [item for item in MAIN_MENU if item.shown_to(principal)]
