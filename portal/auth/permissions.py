"""Every permission in the portal, named ``scope:resource:action``. Keep the list alphabetised."""

from __future__ import annotations

from enum import StrEnum

from portal.i18n import N_


class Permission(StrEnum):
    AUDIT_LOG_READ = "firm:audit_log:read"
    BILLING_CLIENTS_CREATE = "billing:client:create"
    BILLING_CLIENTS_READ = "billing:client:read"
    BILLING_DUPLICATES_RESOLVE = "billing:duplicate:resolve"
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
