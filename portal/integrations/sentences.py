"""The audit log's words for a dossier's connections to its sources (Pennylane, POS and web shops)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal.audit.sentences import Field, Sentences, day, labels, moment, of_enum, person, said, text
from portal.i18n import N_, gettext
from portal.integrations.commerce.models import SyncFrequency
from portal.integrations.commerce.sources import SOURCES
from portal.integrations.models import AuthMethod, ConnectionStatus

if TYPE_CHECKING:
    from portal.audit.sentences import Context

_PROVIDERS = labels({"pennylane": "Pennylane", **{source.code: source.name for source in SOURCES}})


def _mapping(value: Any, context: Context) -> str:
    """The accounting mapping is a table of its own, shown on its page: the log says it changed."""
    return text(None if value is None else gettext("paramétré"), context)


CONNECTIONS = Sentences(
    "integration_connection",
    N_("Connexions des dossiers"),
    {
        "create": N_("%(actor)s a connecté %(provider)s au dossier %(dossier)s"),
        "update": N_("Connexion %(provider)s du dossier %(dossier)s mise à jour"),
        "delete": N_("%(actor)s a supprimé la connexion %(provider)s du dossier %(dossier)s"),
    },
    {
        "provider": Field(N_("Source"), _PROVIDERS),
        "auth_method": Field(N_("Autorisation"), of_enum(AuthMethod)),
        "status": Field(N_("État"), of_enum(ConnectionStatus)),
        "token_hint": Field(N_("Fin de la clé")),
        "label": Field(N_("Compte")),
        "last_error": Field(N_("Dernière erreur"), said),
        "connected_by_id": Field(N_("Connecté par"), person),
        "connected_at": Field(N_("Connecté le"), moment),
    },
)

COMMERCE = Sentences(
    "commerce_setup",
    N_("Connexions des dossiers"),
    {
        "create": N_("%(actor)s a paramétré la source %(source)s du dossier %(dossier)s"),
        "update": N_("%(actor)s a modifié le paramétrage de %(source)s du dossier %(dossier)s"),
        "delete": N_("%(actor)s a retiré le paramétrage de %(source)s du dossier %(dossier)s"),
    },
    {
        "source": Field(N_("Source"), _PROVIDERS),
        "consumer_name": Field(N_("Établissement")),
        "mapping": Field(N_("Mapping comptable"), _mapping),
        "sync_start": Field(N_("Synchroniser depuis le"), day),
        "sync_frequency": Field(N_("Fréquence"), of_enum(SyncFrequency)),
    },
)

SENTENCES = (CONNECTIONS, COMMERCE)
