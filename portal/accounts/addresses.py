"""Email addresses a person types (an invitation, a new account), checked before anything is stored.

``email-validator`` checks the syntax only (``check_deliverability=False``: no DNS, no network).
Addresses are kept in ASCII (an internationalised domain in its ``xn--`` form) and lower-cased,
so every address stored can be written into a message and sent by any mail server: an address
the sending job could not use is refused at the form, in French, never retried by the job.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from portal.i18n import N_

MAX_LENGTH = 320  # RFC 5321: 64 + 1 + 255, rounded as everyone does
INVALID = N_("Adresse e-mail invalide : saisissez une adresse de la forme prenom.nom@exemple.fr.")
ACCENTED = N_("Adresse e-mail invalide : pas de lettre accentuée avant le @.")


class InvalidEmailError(ValueError):
    """An address that cannot be used; ``message`` is a msgid, for the person who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def checked_email(value: str) -> str:
    """``value`` as stored (ASCII, lower-cased), or ``InvalidEmailError``."""
    value = value.strip()
    if not value or len(value) > MAX_LENGTH:
        raise InvalidEmailError(INVALID)
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        local = value.rpartition("@")[0]
        raise InvalidEmailError(ACCENTED if local and not local.isascii() else INVALID) from None
    return checked.ascii_email.lower()  # type: ignore[union-attr]  # always set without SMTPUTF8
