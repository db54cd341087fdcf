"""The audit log's words for a dossier's objectives, budget and PDF reports."""

from __future__ import annotations

from portal.audit.sentences import (
    Field,
    Sentences,
    day,
    euro_cents,
    labels,
    moment,
    month,
    number,
    of_enum,
    person,
    said,
)
from portal.dashboard.models import ReportStatus
from portal.i18n import N_
from portal.ledger.figures import DEFINITIONS, LINE_LABELS

_KEYS = labels({**LINE_LABELS, **{definition.key: definition.label for definition in DEFINITIONS}})

OBJECTIVES = Sentences(
    "dashboard_objective",
    N_("Objectifs et prévisionnel"),
    {
        "create": N_("%(actor)s a fixé l'objectif « %(key)s » de l'exercice clos le %(end_date)s"),
        "update": N_("%(actor)s a changé un objectif de %(dossier)s"),
        "delete": N_("%(actor)s a retiré l'objectif « %(key)s » de l'exercice clos le %(end_date)s"),
    },
    {"key": Field(None, _KEYS), "end_date": Field(None, day), "target": Field(N_("Objectif"), number)},
)

BUDGET = Sentences(
    "dashboard_budget_line",
    N_("Objectifs et prévisionnel"),
    {
        "create": N_("%(actor)s a budgété « %(key)s » pour %(month)s"),
        "update": N_("%(actor)s a modifié le prévisionnel de %(dossier)s"),
        "delete": N_("%(actor)s a effacé « %(key)s » du prévisionnel pour %(month)s"),
    },
    {"key": Field(None, _KEYS), "month": Field(None, month), "amount": Field(N_("Montant"), euro_cents)},
)

REPORTS = Sentences(
    "dashboard_report",
    N_("Rapports"),
    {
        "create": N_("%(actor)s a demandé le rapport « %(title)s »"),
        "update": N_("Rapport de %(dossier)s mis à jour"),
        "delete": N_("%(actor)s a supprimé le rapport « %(title)s »"),
    },
    {
        "title": Field(N_("Titre")),
        "period_start": Field(N_("Du"), day),
        "period_end": Field(N_("Au"), day),
        "comment": Field(N_("Commentaire")),
        "requested_by_id": Field(N_("Demandé par"), person),
        "recipient_ids": Field(N_("Destinataires"), person),
        "status": Field(N_("Statut"), of_enum(ReportStatus)),
        "error": Field(N_("Erreur"), said),
        "finished_at": Field(N_("Terminé le"), moment),
    },
)

SENTENCES = (OBJECTIVES, BUDGET, REPORTS)
