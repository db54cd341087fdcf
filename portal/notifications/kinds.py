"""The kinds of notices, the topics a person chooses a channel for, and the sentence each notice reads as.

A notice keeps its kind and its parameters; its sentence is written when it is read, in the
reader's language, with the dossier's current name (``Notice.sentence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.i18n import N_, gettext


class Topic(StrEnum):
    """What a person chooses a channel for (Mon compte › Notifications)."""

    EXPENSE_TO_APPROVE = "expense_to_approve"
    EXPENSE_DECIDED = "expense_decided"
    CONNECTION_LOST = "connection_lost"
    IMPORT_DONE = "import_done"
    IMPORT_REFUSED = "import_refused"
    REPORT_READY = "report_ready"


@dataclass(frozen=True)
class TopicInfo:
    label: str
    help: str
    # Shown in the preferences of people holding this permission (firm-wide or on some dossier).
    permission: Permission


TOPICS: dict[Topic, TopicInfo] = {
    Topic.EXPENSE_TO_APPROVE: TopicInfo(
        N_("Notes de frais à valider"),
        N_("Une note de frais d'un dossier que vous validez est soumise."),
        Permission.EXPENSES_APPROVE,
    ),
    Topic.EXPENSE_DECIDED: TopicInfo(
        N_("Mes notes de frais"),
        N_("Votre note de frais est approuvée ou refusée."),
        Permission.EXPENSES_FILE,
    ),
    Topic.CONNECTION_LOST: TopicInfo(
        N_("Connexions perdues"),
        N_("Pennylane, une caisse ou une boutique en ligne n'accepte plus l'autorisation d'un de vos dossiers."),
        Permission.CONNECTIONS_MANAGE,
    ),
    Topic.IMPORT_DONE: TopicInfo(
        N_("Imports terminés"),
        N_("Un import que vous avez lancé est terminé."),
        Permission.CONNECTIONS_MANAGE,
    ),
    Topic.IMPORT_REFUSED: TopicInfo(
        N_("Imports refusés ou en échec"),
        N_("Un fichier est refusé ou un import échoue sur un de vos dossiers."),
        Permission.CONNECTIONS_MANAGE,
    ),
    Topic.REPORT_READY: TopicInfo(
        N_("Rapports PDF prêts"),
        N_("Un rapport PDF qui vous est destiné est prêt (par e-mail, il est joint)."),
        Permission.KPI_READ,
    ),
}


def topics_for(principal: Principal) -> list[Topic]:
    """The topics the person may hear of, in order."""
    return [topic for topic, info in TOPICS.items() if principal.can_somewhere(info.permission)]


class Kind(StrEnum):
    """One kind of event a notice is about."""

    EXPENSE_SUBMITTED = "expense_submitted"
    EXPENSE_APPROVED = "expense_approved"
    EXPENSE_REFUSED = "expense_refused"
    CONNECTION_LOST = "connection_lost"
    IMPORT_SUCCEEDED = "import_succeeded"
    IMPORT_REFUSED = "import_refused"
    IMPORT_FAILED = "import_failed"
    REPORT_READY = "report_ready"

    @property
    def topic(self) -> Topic:
        return _TOPIC_OF[self]


_TOPIC_OF = {
    Kind.EXPENSE_SUBMITTED: Topic.EXPENSE_TO_APPROVE,
    Kind.EXPENSE_APPROVED: Topic.EXPENSE_DECIDED,
    Kind.EXPENSE_REFUSED: Topic.EXPENSE_DECIDED,
    Kind.CONNECTION_LOST: Topic.CONNECTION_LOST,
    Kind.IMPORT_SUCCEEDED: Topic.IMPORT_DONE,
    Kind.IMPORT_REFUSED: Topic.IMPORT_REFUSED,
    Kind.IMPORT_FAILED: Topic.IMPORT_REFUSED,
    Kind.REPORT_READY: Topic.REPORT_READY,
}

# fmt: off
SENTENCES: dict[Kind, str] = {
    Kind.EXPENSE_SUBMITTED: N_(
        "%(author)s a soumis la note de frais %(reference)s (%(title)s) : elle attend votre validation."
    ),
    Kind.EXPENSE_APPROVED: N_("Votre note de frais %(reference)s (%(title)s) a été approuvée par %(actor)s."),
    Kind.EXPENSE_REFUSED: N_(
        "Votre note de frais %(reference)s (%(title)s) a été refusée par %(actor)s : « %(comment)s »."
    ),
    Kind.CONNECTION_LOST: N_("%(source)s n'accepte plus l'autorisation du dossier %(dossier)s : reconnectez-le."),
    Kind.IMPORT_SUCCEEDED: N_("L'import de « %(filename)s » dans le dossier %(dossier)s est terminé."),
    Kind.IMPORT_REFUSED: N_(
        "Le fichier « %(filename)s » est refusé pour le dossier %(dossier)s : rien n'a été importé."
    ),
    Kind.IMPORT_FAILED: N_("L'import de « %(filename)s » dans le dossier %(dossier)s a échoué."),
    Kind.REPORT_READY: N_("Le rapport « %(title)s » du dossier %(dossier)s est prêt."),
}
# fmt: on


class _Blank(dict[str, Any]):
    """Parameters of a sentence; one missing (an older notice) reads as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


def sentence(kind: str, params: dict[str, Any], dossier_name: str | None) -> str:
    """The notice as a sentence in the current language (the dossier by its name now)."""
    try:
        template = SENTENCES[Kind(kind)]
    except ValueError:
        return ""
    return gettext(template) % _Blank({**params, "dossier": dossier_name or ""})
