"""The audit log's words for invoices, credit notes and billing runs."""

from __future__ import annotations

from portal.audit.sentences import Field, Sentences, day, euros, number, of_enum, text
from portal.billing.fee_models import BillingRunStatus, EInvoiceStatus
from portal.i18n import N_

INVOICES = Sentences(
    "invoice",
    N_("Factures"),
    {
        "draft_created": N_("%(actor)s a préparé une facture pour %(client)s"),
        "drafts_removed": N_("%(actor)s a supprimé des brouillons de facture"),
        "drafts_grouped": N_("%(actor)s a regroupé des brouillons de facture de %(client)s"),
        "credit_note_drafted": N_("%(actor)s a préparé un avoir sur la facture %(number)s"),
        "validated": N_("%(actor)s a validé la facture %(number)s (%(client)s)"),
        "send_requested": N_("%(actor)s a demandé l'envoi de la facture %(number)s"),
        "sent": N_("La facture %(number)s a été envoyée à %(to)s"),
        "einvoice_status": N_("La plateforme agréée a fait passer la facture %(number)s à l'état %(status)s"),
    },
    {
        "client": Field(N_("Client"), text),
        "number": Field(N_("Numéro"), text),
        "total_ttc": Field(N_("Total TTC"), euros),
        "count": Field(N_("Nombre"), number),
        "to": Field(N_("Destinataire"), text),
        "status": Field(N_("État de facturation électronique"), of_enum(EInvoiceStatus)),
    },
)

RUNS = Sentences(
    "billing_run",
    N_("Facturation récurrente"),
    {
        "create": N_("%(actor)s a lancé une facturation récurrente"),
        "update": N_("Facturation récurrente mise à jour par %(actor)s"),
        "delete": N_("%(actor)s a supprimé une facturation récurrente"),
        "started": N_("%(actor)s a lancé la facturation du %(period_start)s au %(period_end)s"),
    },
    {
        "period_start": Field(N_("Début"), day),
        "period_end": Field(N_("Fin"), day),
        "issue_date": Field(N_("Date des factures"), day),
        "status": Field(N_("État"), of_enum(BillingRunStatus)),
        "drafts": Field(N_("Brouillons"), number),
    },
)

SENTENCES = (INVOICES, RUNS)
