"""The dossier form as posted, and its validation into clean values with French messages per field."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from portal.clients import identifiers
from portal.clients.models import DossierStatus
from portal.i18n import N_
from portal.web import forms

_CLOSING = re.compile(r"^\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*$")
_POSTAL_CODE = re.compile(r"^\d{5}$")
LEGAL_FORMS = ("SAS", "SASU", "SARL", "EURL", "SA", "SCI", "SNC", "SELARL", "SELAS", "SCP", "EI", "EIRL",
               "Association", "Micro-entreprise")  # fmt: skip


@dataclass
class ConfidentialityForm:
    """ "Appliquer les changements": the checkbox "Entreprise confidentielle" and the people given access."""

    confidentielle: str = forms.text(forms.CHOICE_MAX_LENGTH)
    acces: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)


@dataclass
class DossierForm:
    """Fields of "Nouveau dossier" and of the dossier's edit form, as typed (limits: the template's ``maxlength``)."""

    nom: str = forms.text(200)
    identifiant: str = forms.text(30)
    forme_juridique: str = forms.text(60)
    adresse: str = forms.text(300)
    code_postal: str = forms.text(10)
    ville: str = forms.text(120)
    cloture: str = forms.text(10, "31/12")
    statut: str = forms.text(forms.CHOICE_MAX_LENGTH, DossierStatus.ACTIVE.value)
    dossier_cabinet: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class DossierValues:
    """What a valid form means."""

    name: str
    siren: str | None
    nic: str | None
    legal_form: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    closing_day: int
    closing_month: int
    status: DossierStatus
    is_firm_dossier: bool


Validation = forms.Checked[DossierValues]


def _optional(value: str, limit: int) -> str | None:
    value = " ".join(value.split())[:limit]
    return value or None


def _closing(value: str, errors: dict[str, str]) -> tuple[int, int]:
    closing = _CLOSING.match(value or "")
    if closing is None:
        errors["cloture"] = N_("Date de clôture invalide : saisissez le jour et le mois, par exemple 31/12.")
        return 0, 0
    day, month = int(closing.group(1)), int(closing.group(2))
    try:
        dt.date(2024, month, day)  # a leap year: 29/02 is a valid closing date
    except ValueError:
        errors["cloture"] = N_("Date de clôture invalide : ce jour n'existe pas dans ce mois.")
    return day, month


@forms.length_checked
def validate(form: DossierForm) -> Validation:
    """Check every field; collect one French message (msgid) per wrong field."""
    errors: dict[str, str] = {}
    name = " ".join(form.nom.split())
    if not name:
        errors["nom"] = N_("Le nom de l'entreprise est obligatoire.")
    siren = nic = None
    if form.identifiant.strip():
        try:
            parsed = identifiers.parse(form.identifiant)
        except identifiers.IdentifierError as error:
            errors["identifiant"] = error.message
        else:
            siren, nic = parsed.siren, parsed.nic
    postal_code = _optional(form.code_postal, 10)
    if postal_code and not _POSTAL_CODE.match(postal_code.replace(" ", "")):
        errors["code_postal"] = N_("Code postal invalide : 5 chiffres attendus.")
    closing_day, closing_month = _closing(form.cloture, errors)
    try:
        status = DossierStatus(form.statut)
    except ValueError:
        errors["statut"] = N_("Statut inconnu.")
        status = DossierStatus.ACTIVE
    if errors:
        return Validation(errors=errors)
    return Validation(
        values=DossierValues(
            name=name,
            siren=siren,
            nic=nic,
            legal_form=_optional(form.forme_juridique, 60),
            address=_optional(form.adresse, 300),
            postal_code=postal_code.replace(" ", "") if postal_code else None,
            city=_optional(form.ville, 120),
            closing_day=closing_day,
            closing_month=closing_month,
            status=status,
            is_firm_dossier=form.dossier_cabinet in {"on", "1", "true"},
        )
    )
