"""The audit log's words for the firm's settings, the people it invites and how it manages them."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.sentences import (
    PERSON,
    Field,
    Names,
    Sentences,
    day,
    dossier,
    labels,
    moment,
    number,
    of_enum,
    person,
    yes_no,
)
from portal.auth.roles import FirmRole
from portal.firm.policy import user_visible
from portal.i18n import N_

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from portal.auth.policy import Principal

FIRM = Sentences(
    "firm",
    N_("Paramètres du cabinet"),
    {
        "create": N_("%(actor)s a créé le cabinet %(name)s"),
        "update": N_("%(actor)s a modifié les paramètres du cabinet"),
        "delete": N_("%(actor)s a supprimé le cabinet %(name)s"),
    },
    {
        "name": Field(N_("Nom")),
        "own_dossier_id": Field(N_("Dossier du cabinet"), dossier),
        "billing_entity_id": Field(N_("Entité facturante"), dossier),
        "second_factor_required_since": Field(N_("Double authentification obligatoire depuis"), day),
        "second_factor_grace_days": Field(N_("Délai pour l'activer (jours)"), number),
        "alert_revenue_drop_percent": Field(N_("Alerte de baisse du chiffre d'affaires (%)"), number),
        "alert_dso_days": Field(N_("Alerte de délai de paiement des clients (jours)"), number),
        "alert_negative_cash": Field(N_("Alerte de trésorerie négative"), yes_no),
    },
)

INVITATION = Sentences(
    "invitation",
    N_("Invitations"),
    {
        "create": N_("%(actor)s a invité %(person)s"),
        "update": N_("Invitation de %(person)s mise à jour"),
        "delete": N_("Invitation de %(person)s supprimée"),
        "resend": N_("%(actor)s a renvoyé l'invitation de %(person)s"),
        "accept": N_("%(actor)s a accepté son invitation"),
    },
    {
        "invited_by_id": Field(N_("Invité par"), person),
        "expires_at": Field(N_("Lien valable jusqu'au"), moment),
        "sent_at": Field(N_("Envoyée le"), moment),
        "accepted_at": Field(N_("Acceptée le"), moment),
        "revoked_at": Field(N_("Révoquée le"), moment),
        "deliveries_requested": Field(N_("Envois demandés"), number),
        "method": Field(N_("Moyen"), labels({"oidc": N_("authentification unique")})),
    },
)

PEOPLE = Sentences(
    "user_account",
    N_("Utilisateurs"),
    {
        "invite": N_("%(actor)s a invité %(person)s"),
        "invite_withheld": N_("%(actor)s a tenté d'inviter %(person)s, qui ne lui est pas visible : rien n'a changé"),
        "deactivate": N_("%(actor)s a désactivé le compte de %(person)s"),
        "reactivate": N_("%(actor)s a réactivé le compte de %(person)s"),
        "remove_role": N_("%(actor)s a retiré le rôle %(role)s à %(person)s"),
    },
    {
        "email": Field(N_("Adresse e-mail")),
        "created": Field(N_("Nouveau compte"), yes_no),
        "firm_roles": Field(N_("Rôles au cabinet"), of_enum(FirmRole)),
        "dossier_roles": Field(N_("Rôles sur des dossiers"), number),
        "role": Field(None, of_enum(FirmRole)),
    },
    prefix="user",
)


async def person_names(session: AsyncSession, principal: Principal, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the people among ``ids`` that ``principal`` may see (their address when they have none)."""
    statement = select(User.id, User.name, User.email).where(User.id.in_(ids), user_visible(principal))
    return {row.id: row.name or row.email for row in await session.execute(statement)}


SENTENCES = (FIRM, INVITATION, PEOPLE, Names(PERSON, person_names))
