"""The audit log's words for expense notes, their lines and receipts."""

from __future__ import annotations

from portal.audit.sentences import Field, Sentences, bytes_size, day, euros, moment, number, of_enum, person, yes_no
from portal.expenses.categories import ExpenseCategory
from portal.expenses.models import NoteStatus
from portal.i18n import N_

_STATUS = of_enum(NoteStatus)

NOTES = Sentences(
    "expense_note",
    N_("Notes de frais"),
    {
        "create": N_("%(actor)s a créé la note de frais « %(title)s »"),
        "update": N_("%(actor)s a modifié une note de frais"),
        "delete": N_("%(actor)s a supprimé la note de frais « %(title)s »"),
        # One kind per status a note moves to.
        NoteStatus.DRAFT.value: N_("%(actor)s a remis la note de frais %(reference)s en brouillon"),
        NoteStatus.SUBMITTED.value: N_("%(actor)s a soumis la note de frais %(reference)s"),
        NoteStatus.APPROVED.value: N_("%(actor)s a approuvé la note de frais %(reference)s"),
        NoteStatus.REFUSED.value: N_("%(actor)s a refusé la note de frais %(reference)s"),
        NoteStatus.PAID.value: N_("%(actor)s a marqué la note de frais %(reference)s comme payée"),
    },
    {
        "title": Field(N_("Titre")),
        "author_id": Field(N_("Auteur"), person),
        "year": Field(None),
        "status": Field(N_("Statut"), _STATUS),
        "previous": Field(N_("Statut précédent"), _STATUS),
        "comment": Field(N_("Motif")),
        "submitted_at": Field(N_("Soumise le"), moment),
        "accounting_date": Field(N_("Date comptable"), day),
        "payable_account": Field(N_("Compte de l'employé")),
        "paid_at": Field(N_("Payée le"), moment),
    },
)

LINES = Sentences(
    "expense_line",
    N_("Notes de frais"),
    {
        "create": N_("%(actor)s a ajouté une dépense de %(amount_ttc)s chez %(merchant)s"),
        "update": N_("%(actor)s a modifié une ligne de note de frais"),
        "delete": N_("%(actor)s a supprimé une dépense de %(amount_ttc)s chez %(merchant)s"),
    },
    {
        "expense_date": Field(N_("Date"), day),
        "category": Field(N_("Catégorie"), of_enum(ExpenseCategory)),
        "merchant": Field(N_("Fournisseur ou trajet")),
        "purpose": Field(N_("Objet")),
        "amount_ttc": Field(N_("Montant TTC"), euros),
        "vat_amount": Field(N_("TVA récupérable"), euros),
        "horsepower": Field(N_("Puissance fiscale (CV)"), number),
        "distance_km": Field(N_("Distance (km)"), number),
        "electric": Field(N_("Véhicule électrique"), yes_no),
        "prior_km": Field(N_("Kilomètres déjà déclarés cette année"), number),
        "scale_year": Field(N_("Barème de l'année")),
    },
)

RECEIPTS = Sentences(
    "expense_receipt",
    N_("Notes de frais"),
    {
        "create": N_("%(actor)s a joint le justificatif « %(original_name)s »"),
        "update": N_("%(actor)s a remplacé un justificatif"),
        "delete": N_("%(actor)s a retiré le justificatif « %(original_name)s »"),
    },
    {
        "original_name": Field(N_("Fichier")),
        "size": Field(N_("Taille"), bytes_size),
    },
)

SENTENCES = (NOTES, LINES, RECEIPTS)
