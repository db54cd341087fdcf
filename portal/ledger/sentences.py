"""The audit log's words for imports of accounting entries and the fiscal years they bring."""

from __future__ import annotations

from portal.audit.sentences import Field, Sentences, bytes_size, day, moment, number, of_enum, said, yes_no
from portal.i18n import N_
from portal.ledger.models import ImportStatus, LedgerSource

IMPORTS = Sentences(
    "ledger_import",
    N_("Imports comptables"),
    {
        "create": N_("%(actor)s a lancé l'import de « %(filename)s » (%(source)s)"),
        "update": N_("Import de « %(filename)s » : %(status)s"),
        "delete": N_("%(actor)s a supprimé l'import de « %(filename)s »"),
    },
    {
        "source": Field(N_("Source"), of_enum(LedgerSource)),
        "status": Field(N_("Statut"), of_enum(ImportStatus)),
        "filename": Field(N_("Fichier")),
        "size_bytes": Field(N_("Taille"), bytes_size),
        "period_start": Field(N_("Début de l'exercice"), day),
        "period_end": Field(N_("Fin de l'exercice"), day),
        "error": Field(N_("Erreur"), said),
        "replaced": Field(N_("Remplace un exercice déjà importé"), yes_no),
        "finished_at": Field(N_("Terminé le"), moment),
    },
)

FISCAL_YEARS = Sentences(
    "ledger_fiscal_year",
    N_("Exercices comptables"),
    {
        "fiscal_year_imported": N_("Exercice du %(start)s au %(end)s importé dans %(dossier)s"),
        "fiscal_year_deleted": N_("%(actor)s a supprimé l'exercice du %(start)s au %(end)s de %(dossier)s"),
        "import_confirmed": N_("%(actor)s a confirmé l'import de « %(filename)s », malgré l'avertissement"),
        "import_cancelled": N_("%(actor)s a annulé l'import de « %(filename)s »"),
    },
    {
        "start": Field(None, day),
        "end": Field(None, day),
        "lines": Field(N_("Lignes d'écritures"), number),
        "replaced": Field(N_("Remplace l'exercice déjà importé"), yes_no),
        "filename": Field(None),
        "entries": Field(N_("Écritures"), number),
        "source": Field(N_("Source"), of_enum(LedgerSource)),
    },
    prefix="ledger",
)

SENTENCES = (IMPORTS, FISCAL_YEARS)
