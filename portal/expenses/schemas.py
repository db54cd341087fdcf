"""The expense forms as posted, and their validation into clean values with one French message per field.

Messages are msgids (``N_``), translated where they are shown, by the templates' ``_()``,
which always applies ``%`` formatting: a literal percent sign is written ``%%``. Amounts are read as
``Decimal`` from what people type (``12,50``, ``12.50``, ``1 234,50 €``) and never go
through ``float``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from portal.expenses.categories import RECEIPT_CATEGORIES, ExpenseCategory
from portal.expenses.mileage import HORSEPOWERS
from portal.i18n import N_
from portal.web import forms
from portal.web.forms import Checked

MAX_AMOUNT = Decimal("9999999999.99")  # Numeric(12, 2)
MAX_KM_PER_LINE = 10_000
CENT_DIGITS = 2
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SPACES = re.compile(r"[\s\u00a0\u202f€]")
# An amount typed with its thousands separators and currency sign, or kilometres (the templates' ``maxlength``).
AMOUNT_MAX_LENGTH = 30


@dataclass
class NoteForm:
    """ "Nouvelle note de frais"."""

    titre: str = forms.text(200)
    dossier: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class ExpenseLineForm:
    """A line typed from a receipt (the receipt itself comes as a file of the same form)."""

    date: str = forms.text(forms.DATE_MAX_LENGTH)
    fournisseur: str = forms.text(200)
    categorie: str = forms.text(forms.CHOICE_MAX_LENGTH)
    montant_ttc: str = forms.text(AMOUNT_MAX_LENGTH)
    tva_recuperable: str = forms.text(AMOUNT_MAX_LENGTH)
    objet: str = forms.text(300)


@dataclass
class MileageForm:
    """ "Indemnités kilométriques": a trip."""

    date: str = forms.text(forms.DATE_MAX_LENGTH)
    trajet: str = forms.text(300)
    cv: str = forms.text(forms.CHOICE_MAX_LENGTH)
    km: str = forms.text(AMOUNT_MAX_LENGTH)
    electrique: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class RefusalForm:
    commentaire: str = forms.text(2000)


@dataclass(frozen=True)
class ExpenseValues:
    expense_date: dt.date
    merchant: str
    category: ExpenseCategory
    amount_ttc: Decimal
    vat_amount: Decimal
    purpose: str | None


@dataclass(frozen=True)
class MileageValues:
    expense_date: dt.date
    purpose: str
    horsepower: int
    distance_km: int
    electric: bool


def _text(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]


def parse_date(value: str, errors: dict[str, str], key: str, today: dt.date) -> dt.date | None:
    """An expense date: ``AAAA-MM-JJ`` (date fields) or ``JJ/MM/AAAA`` (typed), not after ``today``."""
    value = value.strip()
    if not value:
        errors[key] = N_("La date est obligatoire.")
        return None
    parsed = forms.parse_date(value)
    if parsed is None:
        errors[key] = N_("Date invalide : saisissez-la au format JJ/MM/AAAA.")
        return None
    if parsed > today:
        errors[key] = N_("La date ne peut pas être dans le futur.")
        return None
    return parsed


def parse_amount(value: str) -> Decimal:
    """``12,50`` → ``Decimal("12.50")``; ``ValueError`` with a msgid when it is not an amount of cents."""
    cleaned = _SPACES.sub("", value)
    if not _NUMBER.match(cleaned):
        raise ValueError(N_("Montant invalide : saisissez un nombre, par exemple 12,50."))
    try:
        amount = Decimal(cleaned.replace(",", "."))
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(N_("Montant invalide : saisissez un nombre, par exemple 12,50.")) from error
    if amount.as_tuple().exponent < -CENT_DIGITS:  # type: ignore[operator]
        raise ValueError(N_("Montant invalide : deux décimales au plus."))
    return amount.quantize(Decimal("0.01"))


@forms.length_checked
def validate_expense(form: ExpenseLineForm, today: dt.date) -> Checked[ExpenseValues]:
    """A receipt line: date, merchant, category, TTC amount, recoverable VAT within what the category allows."""
    errors: dict[str, str] = {}
    expense_date = parse_date(form.date, errors, "date", today)
    merchant = _text(form.fournisseur, 200)
    if not merchant:
        errors["fournisseur"] = N_("Le fournisseur est obligatoire.")
    category = _category(form.categorie, errors)
    amount = _amount_ttc(form.montant_ttc, errors)
    vat = _vat(form.tva_recuperable, errors)
    if amount is not None and vat is not None:
        problem = vat_problem(category, amount, vat)
        if problem:
            errors["tva_recuperable"] = problem
    purpose = _text(form.objet, 300) or None
    if errors or expense_date is None or category is None or amount is None or vat is None:
        return Checked(errors=errors)
    return Checked(
        values=ExpenseValues(
            expense_date=expense_date,
            merchant=merchant,
            category=category,
            amount_ttc=amount,
            vat_amount=vat,
            purpose=purpose,
        )
    )


def _category(value: str, errors: dict[str, str]) -> ExpenseCategory | None:
    if not value:
        errors["categorie"] = N_("Choisissez une catégorie.")
        return None
    category = next((category for category in RECEIPT_CATEGORIES if category.value == value), None)
    if category is None:
        errors["categorie"] = N_("Catégorie inconnue.")
    return category


def vat_problem(category: ExpenseCategory | None, amount: Decimal, vat: Decimal) -> str | None:
    """Why ``vat`` cannot be the recoverable VAT of ``amount`` TTC in ``category`` (None: it can)."""
    if vat > amount:
        return N_("La TVA récupérable ne peut pas dépasser le montant TTC.")
    if category is None or vat == 0:
        return None
    rule = category.rule
    if not rule.vat_recoverable:
        return rule.vat_note or N_("Pas de TVA récupérable pour cette catégorie.")
    if vat > rule.max_vat(amount):
        if category is ExpenseCategory.FUEL:
            return N_("La TVA récupérable dépasse 80 %% de la TVA que ce montant peut contenir (taux de 20 %%).")
        return N_("La TVA récupérable dépasse la TVA que ce montant peut contenir (taux de 20 %%).")
    return None


def _amount_ttc(value: str, errors: dict[str, str]) -> Decimal | None:
    if not value.strip():
        errors["montant_ttc"] = N_("Le montant TTC est obligatoire.")
        return None
    try:
        amount = parse_amount(value)
    except ValueError as error:
        errors["montant_ttc"] = str(error)
        return None
    if amount < 0:
        errors["montant_ttc"] = N_("Le montant TTC ne peut pas être négatif.")
    elif amount == 0:
        errors["montant_ttc"] = N_("Le montant TTC doit être supérieur à zéro.")
    elif amount > MAX_AMOUNT:
        errors["montant_ttc"] = N_("Le montant TTC est trop élevé.")
    else:
        return amount
    return None


def _vat(value: str, errors: dict[str, str]) -> Decimal | None:
    if not value.strip():
        return Decimal("0.00")
    try:
        vat = parse_amount(value)
    except ValueError as error:
        errors["tva_recuperable"] = str(error)
        return None
    if vat < 0:
        errors["tva_recuperable"] = N_("La TVA récupérable ne peut pas être négative.")
        return None
    return vat


@forms.length_checked
def validate_mileage(form: MileageForm, today: dt.date) -> Checked[MileageValues]:
    """A trip: date, route and purpose, fiscal horsepower of the scale, whole kilometres."""
    errors: dict[str, str] = {}
    expense_date = parse_date(form.date, errors, "date", today)
    purpose = _text(form.trajet, 300)
    if not purpose:
        errors["trajet"] = N_("Indiquez le trajet et son objet.")
    horsepower = int(form.cv) if form.cv.strip().isdigit() else None
    if horsepower not in HORSEPOWERS:
        errors["cv"] = N_("Choisissez la puissance fiscale du véhicule.")
    distance = _kilometres(form.km, errors)
    if errors or expense_date is None or horsepower is None or distance is None:
        return Checked(errors=errors)
    return Checked(
        values=MileageValues(
            expense_date=expense_date,
            purpose=purpose,
            horsepower=horsepower,
            distance_km=distance,
            electric=form.electrique in {"on", "1", "true"},
        )
    )


def _kilometres(value: str, errors: dict[str, str]) -> int | None:
    value = _SPACES.sub("", value)
    if not value:
        errors["km"] = N_("Le nombre de kilomètres est obligatoire.")
        return None
    if not re.fullmatch(r"[+-]?\d+", value):
        errors["km"] = N_("Le nombre de kilomètres doit être un nombre entier.")
        return None
    distance = int(value)
    if distance <= 0:
        errors["km"] = N_("Le nombre de kilomètres doit être supérieur à zéro.")
    elif distance > MAX_KM_PER_LINE:
        errors["km"] = N_("Au plus 10 000 km par ligne.")
    else:
        return distance
    return None


@forms.length_checked
def validate_note(form: NoteForm) -> Checked[str]:
    """The title of a new note (the dossier is checked by the service against the person's roles)."""
    title = _text(form.titre, 200)
    if not title:
        return Checked(errors={"titre": N_("Donnez un titre à la note, par exemple « Frais de novembre ».")})
    return Checked(values=title)


@forms.length_checked
def validate_refusal(form: RefusalForm) -> Checked[str]:
    comment = form.commentaire.strip()[:2000]
    if not comment:
        return Checked(errors={"commentaire": N_("Indiquez le motif du refus : il est obligatoire.")})
    return Checked(values=comment)


@dataclass(frozen=True)
class Period:
    """Whole months, from ``start`` (the 1st) to ``end`` (the last day)."""

    start: dt.date
    end: dt.date

    @property
    def first_month(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def last_month(self) -> str:
        return self.end.strftime("%Y-%m")


def _month(value: str) -> tuple[int, int] | None:
    match = _MONTH.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:  # noqa: PLR2004
        return None
    return int(match.group(1)), int(match.group(2))


def parse_period(first: str, last: str, today: dt.date) -> Period:
    """``du``/``au`` as ``AAAA-MM``; by default this year up to this month. Reversed months are swapped."""
    start = _month(first) or (today.year, 1)
    end = _month(last) or (today.year, today.month)
    start, end = min(start, end), max(start, end)
    last_day = calendar.monthrange(*end)[1]
    return Period(start=dt.date(*start, 1), end=dt.date(*end, last_day))
