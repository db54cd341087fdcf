"""The audit log's words for dossiers and who may see them; the dossiers' names, for those who may see them."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import select

from portal.audit.sentences import DOSSIER, Field, Names, Sentences, of_enum, person, text, yes_no
from portal.clients.models import Dossier, DossierStatus
from portal.clients.policy import visible
from portal.i18n import N_, gettext

if TYPE_CHECKING:
    from typing import Any

    from sqlalchemy.ext.asyncio import AsyncSession

    from portal.audit.sentences import Context
    from portal.auth.policy import Principal


_MONTHS = (N_("janvier"), N_("février"), N_("mars"), N_("avril"), N_("mai"), N_("juin"), N_("juillet"),
           N_("août"), N_("septembre"), N_("octobre"), N_("novembre"), N_("décembre"))  # fmt: skip


def _month(value: Any, context: Context) -> str:
    if isinstance(value, int) and 1 <= value <= len(_MONTHS):
        return gettext(_MONTHS[value - 1])
    return text(value, context)


DOSSIERS = Sentences(
    "dossier",
    N_("Dossiers"),
    {
        "create": N_("%(actor)s a créé le dossier %(name)s"),
        "update": N_("%(actor)s a modifié le dossier %(dossier)s"),
        "delete": N_("%(actor)s a supprimé le dossier %(name)s"),
        "siren_referred": N_(
            "Quelqu'un a demandé le SIREN %(siren)s de ce dossier pour « %(requested_name)s » : "
            "un associé a été prévenu"
        ),
    },
    {
        "name": Field(N_("Nom")),
        "siren": Field(N_("SIREN")),
        "nic": Field(N_("NIC")),
        "legal_form": Field(N_("Forme juridique")),
        "address": Field(N_("Adresse")),
        "postal_code": Field(N_("Code postal")),
        "city": Field(N_("Ville")),
        "closing_day": Field(N_("Jour de clôture")),
        "closing_month": Field(N_("Mois de clôture"), _month),
        "status": Field(N_("Statut"), of_enum(DossierStatus)),
        "is_firm_dossier": Field(N_("Dossier du cabinet"), yes_no),
        "is_confidential": Field(N_("Entreprise confidentielle"), yes_no),
        "requested_name": Field(None),
    },
)

ACCESS = Sentences(
    "dossier_access",
    N_("Accès aux dossiers confidentiels"),
    {
        "create": N_("%(actor)s a donné accès au dossier %(dossier)s à %(person)s"),
        "update": N_("%(actor)s a modifié l'accès de %(person)s au dossier %(dossier)s"),
        "delete": N_("%(actor)s a retiré l'accès au dossier %(dossier)s à %(person)s"),
    },
    {"granted_by_id": Field(N_("Accordé par"), person)},
)


async def dossier_names(
    session: AsyncSession, principal: Principal, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The names of the dossiers among ``ids`` that ``principal`` may see; the others have none."""
    statement = select(Dossier.id, Dossier.name).where(Dossier.id.in_(ids), visible(principal))
    return {row.id: row.name for row in await session.execute(statement)}


SENTENCES = (DOSSIERS, ACCESS, Names(DOSSIER, dossier_names))
