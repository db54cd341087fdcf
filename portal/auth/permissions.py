"""Every permission in the portal, named ``scope:resource:action``. Keep the list alphabetised."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    AUDIT_LOG_READ = "firm:audit_log:read"
    DOSSIERS_CREATE = "clients:dossier:create"
    DOSSIERS_READ = "clients:dossier:read"
    DOSSIERS_UPDATE = "clients:dossier:update"
    JOBS_READ_ALL = "jobs:run:read_all"
    JOBS_RUN_DIAGNOSTIC = "jobs:diagnostic:run"
    SETTINGS_READ = "firm:settings:read"
    SETTINGS_UPDATE = "firm:settings:update"
    USERS_INVITE = "firm:user:invite"
    USERS_MANAGE = "firm:user:manage"
    USERS_READ = "firm:user:read"


LABELS: dict[Permission, str] = {
    Permission.AUDIT_LOG_READ: "Consulter le journal d'audit",
    Permission.DOSSIERS_CREATE: "Créer des dossiers",
    Permission.DOSSIERS_READ: "Voir les dossiers du cabinet",
    Permission.DOSSIERS_UPDATE: "Modifier les dossiers",
    Permission.JOBS_READ_ALL: "Voir tous les travaux en arrière-plan",
    Permission.JOBS_RUN_DIAGNOSTIC: "Lancer le diagnostic du système",
    Permission.SETTINGS_READ: "Voir les paramètres du cabinet",
    Permission.SETTINGS_UPDATE: "Modifier les paramètres du cabinet",
    Permission.USERS_INVITE: "Inviter des utilisateurs",
    Permission.USERS_MANAGE: "Gérer les utilisateurs",
    Permission.USERS_READ: "Voir les utilisateurs",
}
