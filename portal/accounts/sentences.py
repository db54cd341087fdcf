"""The audit log's words for accounts, roles, memberships, sign-ins and second factors."""

from __future__ import annotations

from portal.accounts.second_factor import Outcome
from portal.audit.sentences import Field, Sentences, labels, number, of_enum, person, yes_no
from portal.auth.roles import DossierRole, FirmRole
from portal.i18n import LOCALES, N_

_METHODS = {
    "password": N_("mot de passe"),
    "invitation": N_("invitation acceptée"),
    "reset": N_("mot de passe réinitialisé"),
    "oidc": N_("authentification unique"),
}

_PROOFS = {
    Outcome.TOTP.value: N_("code de l'application"),
    Outcome.RECOVERY.value: N_("code de secours"),
    Outcome.PASSWORD.value: N_("mot de passe"),
    Outcome.REUSED.value: N_("code déjà utilisé"),
    Outcome.WRONG.value: N_("code incorrect"),
    Outcome.LOCKED.value: N_("trop de codes incorrects"),
}

_SIGN_IN_REFUSALS = {
    "account_inactive": N_("compte désactivé"),
    "email_unverified": N_("adresse non vérifiée par le fournisseur"),
    "invitation_over": N_("invitation expirée ou révoquée"),
    "no_account": N_("adresse inconnue du cabinet"),
    "other_identity": N_("compte déjà lié à une autre identité"),
}

ACCOUNT = Sentences(
    "user_account",
    N_("Comptes"),
    {
        "create": N_("%(actor)s a créé le compte de %(name)s (%(email)s)"),
        "update": N_("%(actor)s a modifié le compte de %(person)s"),
        "delete": N_("%(actor)s a supprimé le compte de %(name)s (%(email)s)"),
    },
    {
        "name": Field(N_("Nom")),
        "email": Field(N_("Adresse e-mail")),
        "is_active": Field(N_("Actif"), yes_no),
        "locale": Field(N_("Langue"), labels(LOCALES)),
    },
)

FIRM_ROLE = Sentences(
    "user_role",
    N_("Rôles au cabinet"),
    {
        "create": N_("%(actor)s a donné le rôle %(role)s à %(person)s"),
        "update": N_("%(actor)s a changé le rôle de %(person)s"),
        "delete": N_("%(actor)s a retiré le rôle %(role)s à %(person)s"),
    },
    {"role": Field(N_("Rôle"), of_enum(FirmRole))},
)

MEMBERSHIP = Sentences(
    "dossier_membership",
    N_("Rôles sur les dossiers"),
    {
        "create": N_("%(actor)s a nommé %(person)s %(role)s du dossier %(dossier)s"),
        "update": N_("%(actor)s a changé le rôle de %(person)s sur le dossier %(dossier)s"),
        "delete": N_("%(actor)s a retiré le rôle %(role)s sur le dossier %(dossier)s à %(person)s"),
    },
    {"role": Field(N_("Rôle"), of_enum(DossierRole)), "granted_by_id": Field(None, person)},
)

SIGN_IN = Sentences(
    "user_account",
    N_("Connexions au portail"),
    {
        "sign_in": N_("Connexion de %(actor)s"),
        "sign_in_failed": N_("Connexion refusée pour %(person)s"),
        "sign_out": N_("Déconnexion de %(actor)s"),
        "password_change": N_("%(actor)s a changé son mot de passe"),
        "session_end": N_("%(actor)s a terminé des sessions de %(person)s"),
        "password_reset_request": N_("Demande de réinitialisation du mot de passe de %(person)s"),
        "password_reset": N_("Mot de passe de %(person)s réinitialisé par le lien reçu par e-mail"),
        "sso_link": N_("Compte de %(person)s lié à son identité %(provider)s"),
    },
    {
        "method": Field(N_("Moyen"), labels(_METHODS)),
        "provider": Field(N_("Fournisseur d'identité")),
        "reason": Field(N_("Motif"), labels(_SIGN_IN_REFUSALS)),
        "email": Field(N_("Adresse e-mail")),
        "sessions": Field(N_("Sessions terminées"), number),
    },
    prefix="auth",
)

SECOND_FACTOR = Sentences(
    "user_account",
    N_("Double authentification"),
    {
        "enrol": N_("%(actor)s a activé la double authentification"),
        "enrol_failed": N_("Activation de la double authentification manquée par %(actor)s (code incorrect)"),
        "verified": N_("%(actor)s a confirmé sa connexion par un second facteur"),
        "failed": N_("Code de double authentification refusé pour %(person)s"),
        "locked": N_("Trop de codes incorrects pour %(person)s : les codes sont refusés un moment"),
        "recovery_code_used": N_("Connexion de %(actor)s avec un code de secours"),
        "recovery_codes_regenerate": N_("%(actor)s a obtenu de nouveaux codes de secours"),
        "trust_browser": N_("%(actor)s a demandé à ne plus saisir de code sur ce navigateur pendant 30 jours"),
        "trusted_browser_used": N_("Connexion de %(actor)s depuis un navigateur mémorisé"),
        "forget_browsers": N_("%(actor)s a oublié ses navigateurs mémorisés"),
        "disable": N_("%(actor)s a désactivé la double authentification"),
        "reset": N_("%(actor)s a réinitialisé la double authentification de %(person)s"),
    },
    {
        "proof": Field(N_("Preuve"), labels(_PROOFS)),
        "reason": Field(N_("Motif"), labels(_PROOFS)),
        "left": Field(N_("Codes de secours restants"), number),
        "browser": Field(N_("Navigateur")),
        "count": Field(N_("Navigateurs oubliés"), number),
    },
    prefix="second_factor",
)

SENTENCES = (ACCOUNT, FIRM_ROLE, MEMBERSHIP, SIGN_IN, SECOND_FACTOR)
