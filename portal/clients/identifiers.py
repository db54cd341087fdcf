"""SIREN, SIRET and intra-EU VAT numbers, checked with python-stdnum.

A person may type a SIREN (9 digits), a SIRET (14 digits: SIREN + NIC) or a French
VAT number, with spaces, dots or dashes. Whatever they type, the dossier is identified
by its SIREN; a SIRET also keeps its NIC. La Poste's SIRETs (SIREN 356000000), which do
not follow the Luhn rule, are checked with their own rule by stdnum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError
from stdnum.fr import siren as siren_number
from stdnum.fr import siret as siret_number
from stdnum.fr import tva as tva_number

from portal.i18n import N_

_SEPARATORS = re.compile(r"[\s.\-_/]+")


class IdentifierError(ValueError):
    """The identifier is not valid. ``message`` is a French msgid, shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CompanyIdentifier:
    """A company's identity: its SIREN, and the NIC of the establishment when a SIRET was given."""

    siren: str
    nic: str | None = None

    @property
    def siret(self) -> str | None:
        return self.siren + self.nic if self.nic else None

    @property
    def vat_number(self) -> str:
        return vat_number(self.siren)


def compact(raw: str) -> str:
    """``raw`` without the spaces, dots and dashes people type between digit groups; upper-cased."""
    return _SEPARATORS.sub("", raw or "").upper()


def vat_number(siren: str) -> str:
    """The intra-EU VAT number derived from ``siren`` (numeric key), e.g. ``FR44732829320``."""
    return "FR" + siren_number.to_tva(siren)


def format_siren(siren: str | None) -> str:
    return siren_number.format(siren) if siren else ""


def format_siret(siren: str | None, nic: str | None) -> str:
    return siret_number.format(siren + nic) if siren and nic else ""


def parse(raw: str) -> CompanyIdentifier:
    """Parse what a person typed as a SIREN, SIRET or French VAT number. Raises ``IdentifierError``."""
    value = compact(raw)
    if not value:
        raise IdentifierError(N_("Saisissez un SIREN (9 chiffres) ou un SIRET (14 chiffres)."))
    if value.startswith("FR") and len(value) == 13:  # noqa: PLR2004 - FR + 2-character key + SIREN
        return _from_vat(value)
    if not value.isdigit():
        raise IdentifierError(N_("Le SIREN ne doit contenir que des chiffres (9 pour un SIREN, 14 pour un SIRET)."))
    if len(value) == 9:  # noqa: PLR2004
        return CompanyIdentifier(siren=_checked_siren(value))
    if len(value) == 14:  # noqa: PLR2004
        return _from_siret(value)
    raise IdentifierError(N_("Longueur incorrecte : un SIREN compte 9 chiffres et un SIRET 14."))


def _checked_siren(value: str) -> str:
    try:
        return str(siren_number.validate(value))
    except InvalidChecksum as error:
        raise IdentifierError(N_("SIREN invalide : la clé de contrôle ne correspond pas.")) from error
    except ValidationError as error:
        raise IdentifierError(N_("SIREN invalide : 9 chiffres attendus.")) from error


def _from_siret(value: str) -> CompanyIdentifier:
    try:
        valid = str(siret_number.validate(value))
    except InvalidChecksum as error:
        raise IdentifierError(N_("SIRET invalide : la clé de contrôle ne correspond pas.")) from error
    except ValidationError as error:
        raise IdentifierError(N_("SIRET invalide : 14 chiffres attendus.")) from error
    # The SIREN inside a valid SIRET is checked on its own too (La Poste's passes).
    return CompanyIdentifier(siren=_checked_siren(valid[:9]), nic=valid[9:])


def _from_vat(value: str) -> CompanyIdentifier:
    try:
        valid = tva_number.validate(value)
        siren = tva_number.to_siren(valid)
    except InvalidChecksum as error:
        raise IdentifierError(N_("Numéro de TVA invalide : la clé ne correspond pas au SIREN.")) from error
    except (InvalidLength, InvalidComponent, ValidationError) as error:
        raise IdentifierError(N_("Numéro de TVA invalide : il ne contient pas de SIREN.")) from error
    return CompanyIdentifier(siren=_checked_siren(siren))


def siren_prefix(query: str) -> str | None:
    """The SIREN (prefix) to search for when ``query`` is made of digits: a SIRET searches its SIREN."""
    value = compact(query)
    if not value.isdigit():
        return None
    return value[:9]
