"""Every permission in the portal, named ``scope:resource:action``. Keep the list alphabetised."""

from __future__ import annotations

from enum import StrEnum

from portal.i18n import N_


class Permission(StrEnum):
    AUDIT_LOG_READ = "firm:audit_log:read"
    BILLING_CLIENTS_CREATE = "billing:client:create"
    BILLING_CLIENTS_READ = "billing:client:read"
    BILLING_DUPLICATES_RESOLVE = "billing:duplicate:resolve"
    BILLING_FEES_MANAGE = "billing:invoice:manage"
    BILLING_FEES_READ = "billing:invoice:read"
    CONNECTIONS_MANAGE = "integrations:connection:manage"
    CONNECTIONS_MAP = "integrations:mapping:update"
    DOSSIERS_CREATE = "clients:dossier:create"
    DOSSIERS_EXPORT = "clients:dossier:export"
    DOSSIERS_READ = "clients:dossier:read"
    DOSSIERS_UPDATE = "clients:dossier:update"
    EXPENSES_APPROVE = "firm:expense_note:approve"
    EXPENSES_FILE = "firm:expense_note:file"
    JOBS_READ_ALL = "jobs:run:read_all"
    KPI_PLAN = "dashboard:objective:update"
    KPI_READ = "dashboard:kpi:read"
    JOBS_RUN_DIAGNOSTIC = "jobs:diagnostic:run"
    LEDGER_DELETE = "ledger:fiscal_year:delete"
    LEDGER_EXPORT = "ledger:fec:export"
    LEDGER_READ = "ledger:entry:read"
    SETTINGS_READ = "firm:settings:read"
    SETTINGS_UPDATE = "firm:settings:update"
    USERS_INVITE = "firm:user:invite"
    USERS_MANAGE = "firm:user:manage"
    USERS_READ = "firm:user:read"


LABELS: dict[Permission, str] = {
    Permission.AUDIT_LOG_READ: N_("Consulter le journal d'audit"),
    Permission.BILLING_CLIENTS_CREATE: N_("Créer les clients de l'entité facturante"),
    Permission.BILLING_CLIENTS_READ: N_("Voir la base clients"),
    Permission.BILLING_DUPLICATES_RESOLVE: N_("Fusionner ou écarter les doublons potentiels"),
    Permission.BILLING_FEES_MANAGE: N_("Écrire les lettres de mission, valider et envoyer les factures"),
    Permission.BILLING_FEES_READ: N_("Voir les missions, les factures et les encaissements"),
    Permission.CONNECTIONS_MANAGE: N_("Connecter les sources d'un dossier et importer ses écritures"),
    Permission.CONNECTIONS_MAP: N_("Paramétrer le mapping comptable des caisses et boutiques en ligne"),
    Permission.DOSSIERS_CREATE: N_("Créer des dossiers"),
    Permission.DOSSIERS_EXPORT: N_("Exporter la liste des dossiers"),
    Permission.DOSSIERS_READ: N_("Voir les dossiers du cabinet"),
    Permission.DOSSIERS_UPDATE: N_("Modifier les dossiers et leur confidentialité"),
    Permission.EXPENSES_APPROVE: N_("Valider, refuser et payer les notes de frais"),
    Permission.EXPENSES_FILE: N_("Déposer ses notes de frais"),
    Permission.JOBS_READ_ALL: N_("Voir tous les travaux en arrière-plan"),
    Permission.JOBS_RUN_DIAGNOSTIC: N_("Lancer le diagnostic du système"),
    Permission.KPI_PLAN: N_("Fixer les objectifs et le prévisionnel d'un dossier"),
    Permission.KPI_READ: N_("Voir le tableau de bord d'un dossier"),
    Permission.LEDGER_DELETE: N_("Supprimer un exercice importé d'un dossier"),
    Permission.LEDGER_EXPORT: N_("Exporter le FEC d'un dossier"),
    Permission.LEDGER_READ: N_("Voir les connexions et les écritures d'un dossier"),
    Permission.SETTINGS_READ: N_("Voir les paramètres du cabinet"),
    Permission.SETTINGS_UPDATE: N_("Modifier les paramètres du cabinet"),
    Permission.USERS_INVITE: N_("Inviter des utilisateurs"),
    Permission.USERS_MANAGE: N_("Gérer les utilisateurs"),
    Permission.USERS_READ: N_("Voir les utilisateurs"),
}

# What each permission lets one do, in one line (Paramètres › Rôles et permissions).
DESCRIPTIONS: dict[Permission, str] = {
    Permission.AUDIT_LOG_READ: N_("Lire qui a fait quoi et quand dans le portail, sur ce qu'on a le droit de voir."),
    Permission.BILLING_CLIENTS_CREATE: N_("Lancer « Créer mes clients » dans la base de l'entité facturante."),
    Permission.BILLING_CLIENTS_READ: N_(
        "Consulter les clients de l'entité facturante et les dossiers qui leur sont liés."
    ),
    Permission.BILLING_DUPLICATES_RESOLVE: N_("Réunir deux clients en un seul, ou confirmer qu'ils sont distincts."),
    Permission.BILLING_FEES_MANAGE: N_(
        "Tenir le catalogue, écrire les lettres de mission, lancer la facturation, valider, envoyer, encaisser."
    ),
    Permission.BILLING_FEES_READ: N_("Lire les missions, les factures et le solde dû des clients de ses dossiers."),
    Permission.CONNECTIONS_MANAGE: N_(
        "Connecter Pennylane, une caisse ou une boutique, déposer un FEC, lancer un import."
    ),
    Permission.CONNECTIONS_MAP: N_("Choisir les comptes où vont les ventes, la TVA et les encaissements."),
    Permission.DOSSIERS_CREATE: N_("Ajouter une entreprise par son SIREN ou son SIRET."),
    Permission.DOSSIERS_EXPORT: N_("Télécharger la liste des entreprises en CSV."),
    Permission.DOSSIERS_READ: N_("Ouvrir les entreprises du cabinet, sauf les confidentielles non partagées."),
    Permission.DOSSIERS_UPDATE: N_(
        "Changer les informations d'une entreprise et dire qui voit une entreprise confidentielle."
    ),
    Permission.EXPENSES_APPROVE: N_("Approuver ou refuser les notes des autres, puis les marquer payées."),
    Permission.EXPENSES_FILE: N_("Créer ses notes de frais, y joindre les justificatifs et les soumettre."),
    Permission.JOBS_READ_ALL: N_("Suivre les travaux en arrière-plan de tout le cabinet, pas seulement les siens."),
    Permission.JOBS_RUN_DIAGNOSTIC: N_("Vérifier que la base de données et les travaux en arrière-plan répondent."),
    Permission.KPI_PLAN: N_("Saisir les objectifs de l'exercice et le budget mois par mois."),
    Permission.KPI_READ: N_("Voir les indicateurs, les objectifs et les rapports PDF d'un dossier."),
    Permission.LEDGER_EXPORT: N_("Télécharger le fichier des écritures comptables (FEC) d'un exercice."),
    Permission.LEDGER_DELETE: N_("Retirer un exercice importé, ses écritures et ce qui en est calculé."),
    Permission.LEDGER_READ: N_("Voir les sources connectées, les imports et les écritures d'un dossier."),
    Permission.SETTINGS_READ: N_("Voir les informations du cabinet, les rôles et les permissions."),
    Permission.SETTINGS_UPDATE: N_(
        "Changer l'entité facturante, les alertes et la double authentification obligatoire."
    ),
    Permission.USERS_INVITE: N_("Inviter une personne par e-mail et lui donner des rôles."),
    Permission.USERS_MANAGE: N_("Désactiver un compte, retirer un rôle, réinitialiser une double authentification."),
    Permission.USERS_READ: N_("Voir les personnes du cabinet, leurs rôles et l'état de leur invitation."),
}

# The permissions by area, in the order the page lists them.
AREAS: tuple[tuple[str, tuple[Permission, ...]], ...] = (
    (N_("Dossiers"), (Permission.DOSSIERS_READ, Permission.DOSSIERS_CREATE, Permission.DOSSIERS_UPDATE,
                      Permission.DOSSIERS_EXPORT)),
    (N_("Comptabilité et connexions"), (Permission.LEDGER_READ, Permission.LEDGER_EXPORT, Permission.LEDGER_DELETE,
                                        Permission.CONNECTIONS_MANAGE, Permission.CONNECTIONS_MAP)),
    (N_("Tableau de bord"), (Permission.KPI_READ, Permission.KPI_PLAN)),
    (N_("Facturation"), (Permission.BILLING_CLIENTS_READ, Permission.BILLING_CLIENTS_CREATE,
                         Permission.BILLING_DUPLICATES_RESOLVE, Permission.BILLING_FEES_READ,
                         Permission.BILLING_FEES_MANAGE)),
    (N_("Notes de frais"), (Permission.EXPENSES_FILE, Permission.EXPENSES_APPROVE)),
    (N_("Utilisateurs"), (Permission.USERS_READ, Permission.USERS_INVITE, Permission.USERS_MANAGE)),
    (N_("Paramètres et suivi"), (Permission.SETTINGS_READ, Permission.SETTINGS_UPDATE, Permission.AUDIT_LOG_READ,
                                 Permission.JOBS_READ_ALL, Permission.JOBS_RUN_DIAGNOSTIC)),
)  # fmt: skip
