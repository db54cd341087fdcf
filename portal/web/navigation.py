"""The firm space's main menu, filtered by what the signed-in person may open.

An entry may carry a count (the notes waiting for the person's approval beside Notes de frais):
the domain that knows it registers a ``MenuCount`` (through its plugin's ``parts``), read once per
page before the handler runs, through the permission model, on the request's session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal

from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.auth.roles import DossierRole
from portal.i18n import N_, get_locale, ngettext
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
    # The client base firm-wide; the fees for a Gestionnaire de facturation, or a Comptable on their dossiers.
    NavItem(
        N_("Facturation"),
        "/facturation",
        Permission.BILLING_CLIENTS_READ,
        on_a_dossier=True,
        or_permission=Permission.BILLING_FEES_READ,
    ),
    NavItem(N_("Utilisateurs"), "/utilisateurs", Permission.USERS_READ),
    NavItem(N_("Paramètres"), "/parametres", Permission.SETTINGS_READ),
)


def navigation() -> list[NavItem]:
    principal = current_principal()
    if principal is None:
        return []
    return [item for item in MAIN_MENU if item.shown_to(principal)]


@dataclass(frozen=True)
class MenuCount:
    """How many things wait for the person behind the menu entry at ``path`` (0: no count shown).

    ``applies`` says whether the count means anything for the person (else it is not read); ``count`` reads
    it on the request's session, through the permission model; ``singular``/``plural`` (msgids with
    ``%(num)s``) say what is counted, for screen readers and the tooltip.
    """

    path: str
    applies: Callable[[Principal], bool]
    count: Callable[[Any, Principal], Awaitable[int]]
    singular: str
    plural: str

    def register(self) -> None:
        _COUNTERS[self.path] = self


_COUNTERS: dict[str, MenuCount] = {}
_counts: ContextVar[Mapping[str, int] | None] = ContextVar("portal_menu_counts", default=None)


async def load_menu_counts(session: Any, principal: Principal) -> None:
    """Read this page's menu counts for ``principal`` (before the handler: the template reads them)."""
    counts = {path: await counter.count(session, principal) for path, counter in _COUNTERS.items()
              if counter.applies(principal)}  # fmt: skip
    _counts.set(counts)


def clear_menu_counts() -> None:
    _counts.set(None)


def menu_count(path: str) -> int:
    """The count read for this page beside the entry at ``path`` (0 when none was read)."""
    return (_counts.get() or {}).get(path, 0)


def menu_count_label(path: str) -> str:
    """What the count beside ``path`` means, in words (``3 notes à valider``)."""
    counter = _COUNTERS.get(path)
    number = menu_count(path)
    if counter is None or not number:
        return ""
    return ngettext(counter.singular, counter.plural, number) % {"num": format_decimal(number, locale=get_locale())}


def wants_menu_counts(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """A full page may be about to be drawn (the menu with it): a GET, not an htmx fragment, a static file nor what a
    browser says it fetches for an image, a script or a style (``Sec-Fetch-Dest``)."""
    destination = headers.get("sec-fetch-dest", "document")
    return (
        bool(_COUNTERS)
        and method == "GET"
        and "hx-request" not in headers
        and destination in {"document", "iframe"}
        and not path.startswith("/static/")
    )
