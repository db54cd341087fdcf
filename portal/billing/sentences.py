"""The audit log's words for the billing entity's clients, their dossiers and their possible duplicates; for its
billing settings, its catalogue, its lettres de mission and their missions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal.audit.sentences import Field, Sentences, day, dossier, euros, moment, number, of_enum, person, text, yes_no
from portal.billing.fee_models import EngagementStatus, PaymentMethod, Rhythm, Unit
from portal.billing.models import DuplicateStatus
from portal.i18n import N_, gettext

if TYPE_CHECKING:
    from portal.audit.sentences import Context


def _client(value: Any, context: Context) -> str:
    """A client as the merge recorded it: its name and SIREN."""
    if not isinstance(value, dict):
        return text(value, context)
    if value.get("siren"):
        return gettext("%(name)s (SIREN %(siren)s)") % {"name": value.get("name"), "siren": value["siren"]}
    return text(value.get("name"), context)


CLIENTS = Sentences(
    "billing_client",
    N_("Base clients"),
    {
        "create": N_("%(actor)s a créé le client %(name)s"),
        "update": N_("%(actor)s a modifié le client de %(dossier)s"),
        "delete": N_("%(actor)s a supprimé le client %(name)s"),
        "merge": N_("%(actor)s a fusionné le client %(merged)s dans un autre client"),
        "bulk_create": N_("%(actor)s a complété la base clients (Créer mes clients)"),
    },
    {
        "name": Field(N_("Nom")),
        "siren": Field(N_("SIREN")),
        "origin_dossier_id": Field(N_("Dossier d'origine"), dossier),
        "merged": Field(None, _client),
        "links_moved": Field(N_("Dossiers rattachés au client conservé"), dossier),
        "created": Field(N_("Clients créés"), number),
        "already_present": Field(N_("Déjà présents"), number),
        "duplicates": Field(N_("Doublons potentiels"), number),
    },
)

LINKS = Sentences(
    "billing_client_dossier",
    N_("Base clients"),
    {
        "create": N_("%(actor)s a rattaché le dossier %(dossier)s à un client"),
        "update": N_("%(actor)s a rattaché le dossier %(dossier)s à un autre client"),
        "delete": N_("%(actor)s a détaché le dossier %(dossier)s de son client"),
    },
)

DUPLICATES = Sentences(
    "billing_duplicate",
    N_("Doublons potentiels"),
    {
        "create": N_("Doublon potentiel relevé par %(actor)s"),
        "update": N_("%(actor)s a traité un doublon potentiel"),
        "delete": N_("Doublon potentiel retiré par %(actor)s"),
    },
    {
        "status": Field(N_("Statut"), of_enum(DuplicateStatus)),
        "resolved_by_id": Field(N_("Traité par"), person),
        "resolved_at": Field(N_("Traité le"), moment),
    },
)

PAYMENTS = Sentences(
    "billing_payment",
    N_("Encaissements"),
    {
        "create": N_("%(actor)s a saisi un encaissement de %(amount)s"),
        "update": N_("%(actor)s a modifié un encaissement"),
        "delete": N_("%(actor)s a supprimé un encaissement de %(amount)s"),
        "recorded": N_("%(actor)s a enregistré un encaissement de %(amount)s de %(client)s"),
        "credit_applied": N_("%(actor)s a imputé %(amount)s d'avance sur la facture %(invoice)s"),
        "credit_note_applied": N_("%(actor)s a imputé l'avoir %(credit_note)s sur la facture %(invoice)s"),
    },
    {
        "client": Field(None),
        "invoice": Field(None),
        "credit_note": Field(None),
        "amount": Field(N_("Montant"), euros),
        "unallocated": Field(N_("Avance"), euros),
        "credit": Field(N_("Avance du client"), euros),
        "received_on": Field(N_("Date d'encaissement"), day),
        "invoices": Field(N_("Factures réglées")),
        "method": Field(N_("Mode de paiement"), of_enum(PaymentMethod)),
        "reference": Field(N_("Référence")),
        "entity_id": Field(None),
        "client_id": Field(None),
        "bank_line_id": Field(None),
        "created_by_id": Field(N_("Saisi par"), person),
    },
)

BANK_LINES = Sentences(
    "billing_bank_line",
    N_("Rapprochement bancaire"),
    {
        "imported": N_("%(actor)s a importé un relevé bancaire"),
        "matched": N_("%(actor)s a rapproché le virement « %(label)s » de la facture %(invoice)s"),
        "ignored": N_("%(actor)s a ignoré la ligne de relevé « %(label)s »"),
    },
    {
        "label": Field(None),
        "invoice": Field(None),
        "amount": Field(N_("Montant"), euros),
        "credits": Field(N_("Lignes de crédit lues"), number),
        "added": Field(N_("Lignes nouvelles"), number),
        "suggested": Field(N_("Avec une facture suggérée"), number),
    },
)

REMINDERS = Sentences(
    "billing_reminder",
    N_("Relances"),
    {"sent": N_("Relance J+%(delay)s de la facture %(invoice)s envoyée à %(email)s")},
    {
        "invoice": Field(None),
        "delay": Field(None),
        "email": Field(None),
        "amount": Field(N_("Solde dû"), euros),
    },
)

SENTENCES = (CLIENTS, LINKS, DUPLICATES, PAYMENTS, BANK_LINES, REMINDERS)


# --- the fees: settings, catalogue, lettres de mission -------------------------------------------

_ENGAGEMENT_STATUS = of_enum(EngagementStatus)

FEE_SETTINGS = Sentences(
    "billing_settings",
    N_("Paramètres de facturation"),
    {
        "create": N_("%(actor)s a enregistré les paramètres de facturation"),
        "update": N_("%(actor)s a modifié les paramètres de facturation"),
        "delete": N_("%(actor)s a supprimé les paramètres de facturation"),
    },
    {
        "entity_id": Field(None),
        "share_capital": Field(N_("Capital social")),
        "trade_registry": Field(N_("RCS")),
        "email": Field(N_("E-mail")),
        "phone": Field(N_("Téléphone")),
        "iban": Field(N_("IBAN")),
        "bic": Field(N_("BIC")),
        "payment_terms_days": Field(N_("Délai de paiement (jours)"), number),
        "late_penalty_rate": Field(N_("Taux des pénalités de retard (%)"), number),
        "vat_on_debits": Field(N_("Option pour le paiement de la taxe d'après les débits"), yes_no),
        "general_terms": Field(N_("Conditions générales des lettres de mission")),
        "invoice_prefix": Field(N_("Préfixe des factures")),
        "credit_note_prefix": Field(N_("Préfixe des avoirs")),
        "reminder_days": Field(N_("Relances (jours après l'échéance)")),
    },
)

SERVICES = Sentences(
    "billing_service",
    N_("Catalogue"),
    {
        "create": N_("%(actor)s a ajouté le service « %(label)s » au catalogue"),
        "update": N_("%(actor)s a modifié un service du catalogue"),
        "delete": N_("%(actor)s a supprimé le service « %(label)s » du catalogue"),
    },
    {
        "entity_id": Field(None),
        "label": Field(N_("Libellé")),
        "unit": Field(N_("Unité"), of_enum(Unit)),
        "unit_price": Field(N_("Prix HT"), euros),
        "vat_rate": Field(N_("Taux de TVA (%)"), number),
        "revenue_account": Field(N_("Compte de produits")),
        "active": Field(N_("Actif"), yes_no),
    },
)

ENGAGEMENTS = Sentences(
    "billing_engagement",
    N_("Lettres de mission"),
    {
        "create": N_("%(actor)s a écrit la lettre de mission %(reference)s"),
        "update": N_("%(actor)s a modifié une lettre de mission"),
        "delete": N_("%(actor)s a supprimé la lettre de mission %(reference)s"),
        "send": N_("%(actor)s a envoyé la lettre de mission %(reference)s à %(contact_email)s"),
        "accept": N_("La lettre de mission %(reference)s a été acceptée par %(accepted_by_name)s"),
        "renew": N_("%(actor)s a renouvelé la lettre de mission %(reference)s (nouvelle lettre %(renewal)s)"),
    },
    {
        "entity_id": Field(None),
        "client_id": Field(None),
        "created_by_id": Field(None),
        "reference": Field(None),
        "renewal": Field(None),
        "status": Field(N_("Statut"), _ENGAGEMENT_STATUS),
        "start_date": Field(N_("Début"), day),
        "renewal_date": Field(N_("Renouvellement"), day),
        "revision_rate": Field(N_("Révision annuelle (%)"), number),
        "general_terms": Field(N_("Conditions générales")),
        "contact_name": Field(N_("Contact")),
        "contact_email": Field(N_("E-mail du contact")),
        "sent_at": Field(N_("Envoyée le"), moment),
        "accepted_at": Field(N_("Acceptée le"), moment),
        "accepted_by_name": Field(N_("Acceptée par")),
        "accepted_from": Field(N_("Adresse de connexion")),
    },
)

MISSIONS = Sentences(
    "billing_mission",
    N_("Lettres de mission"),
    {
        "create": N_("%(actor)s a ajouté la mission « %(label)s » à une lettre de mission"),
        "update": N_("%(actor)s a modifié une mission d'une lettre de mission"),
        "delete": N_("%(actor)s a retiré la mission « %(label)s » d'une lettre de mission"),
    },
    {
        "engagement_id": Field(None),
        "service_id": Field(None),
        "position": Field(None),
        "label": Field(N_("Libellé")),
        "unit": Field(N_("Unité"), of_enum(Unit)),
        "quantity": Field(N_("Quantité"), number),
        "unit_price": Field(N_("Prix HT"), euros),
        "vat_rate": Field(N_("Taux de TVA (%)"), number),
        "revenue_account": Field(N_("Compte de produits")),
        "rhythm": Field(N_("Périodicité"), of_enum(Rhythm)),
    },
)

FEES_SENTENCES = (FEE_SETTINGS, SERVICES, ENGAGEMENTS, MISSIONS)
