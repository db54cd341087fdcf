"""The invoice forms: lines typed as a firm types them (« 1 234,50 », « 5,5 »), checked before anything is saved."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from portal.billing.fee_models import Unit
from portal.billing.invoices import LineValues
from portal.dashboard.amounts import NumberError, parse_number
from portal.i18n import N_
from portal.web import forms

VAT_RATES = (Decimal("20.00"), Decimal("10.00"), Decimal("5.50"), Decimal("2.10"), Decimal("0.00"))
MAX_LINES = 50
QUANTITY_DIGITS = 3
MAX_QUANTITY = Decimal("999999999.999")

NO_LABEL = N_("Décrivez la prestation.")
BAD_QUANTITY = N_("Quantité invalide : un nombre positif, trois décimales au plus (par exemple 1 ou 2,5).")
BAD_PRICE = N_("Prix invalide : un montant positif en euros, deux décimales au plus (par exemple 1 234,50).")
BAD_RATE = N_("Taux de TVA invalide : 20, 10, 5,5, 2,1 ou 0 %.")
BAD_ACCOUNT = N_("Compte de produit invalide : un compte 70 (par exemple 706000).")


@dataclass
class LinesForm:
    """A draft's lines (each field sent once per line, in order), its note and the client's order number."""

    client: str = forms.text(forms.CHOICE_MAX_LENGTH)
    libelle: list[str] = forms.texts(300)
    unite: list[str] = forms.texts(16)
    quantite: list[str] = forms.texts(30)
    prix: list[str] = forms.texts(30)
    tva: list[str] = forms.texts(10)
    compte: list[str] = forms.texts(20)
    note: str = forms.text(1000)
    commande: str = forms.text(60)


def parse_quantity(value: str) -> Decimal:
    cleaned = value.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        quantity = Decimal(cleaned)
    except InvalidOperation:
        raise NumberError(BAD_QUANTITY) from None
    if (
        not quantity.is_finite()
        or quantity <= 0
        or quantity > MAX_QUANTITY
        or quantity.as_tuple().exponent < -QUANTITY_DIGITS  # type: ignore[operator]
    ):
        raise NumberError(BAD_QUANTITY)
    return quantity.quantize(Decimal("0.001"))


def parse_rate(value: str) -> Decimal:
    try:
        rate = parse_number(value)
    except NumberError:
        raise NumberError(BAD_RATE) from None
    if rate is None or rate not in VAT_RATES:
        raise NumberError(BAD_RATE)
    return rate


def _price(value: str) -> Decimal:
    try:
        price = parse_number(value)
    except NumberError:
        raise NumberError(BAD_PRICE) from None
    if price is None or price < 0:
        raise NumberError(BAD_PRICE)
    return price


def _account(value: str) -> str:
    account = value.strip()
    if not (account.isdigit() and account.startswith("70") and 3 <= len(account) <= 20):  # noqa: PLR2004
        raise NumberError(BAD_ACCOUNT)
    return account


def _at(values: list[str], index: int, default: str = "") -> str:
    return values[index] if index < len(values) else default


def _row(form: LinesForm, index: int) -> tuple[LineValues | None, dict[str, str]]:
    """Line ``index`` of the form, or the messages beside its fields."""
    label = _at(form.libelle, index).strip()
    errors: dict[str, str] = {} if label else {f"libelle-{index}": NO_LABEL}
    checks = {
        "quantite": (parse_quantity, _at(form.quantite, index, "1") or "1"),
        "prix": (_price, _at(form.prix, index)),
        "tva": (parse_rate, _at(form.tva, index, "20") or "20"),
        "compte": (_account, _at(form.compte, index, "706000") or "706000"),
    }
    values: dict[str, Any] = {}
    for name, (check, typed) in checks.items():
        try:
            values[name] = check(typed)
        except NumberError as refused:
            errors[f"{name}-{index}"] = refused.message
    if errors:
        return None, errors
    unit_value = _at(form.unite, index, Unit.FLAT.value)
    unit = Unit(unit_value) if unit_value in {unit.value for unit in Unit} else Unit.FLAT
    line = LineValues(label=label, quantity=values["quantite"], unit_price=values["prix"], vat_rate=values["tva"],
                      unit=unit, revenue_account=values["compte"])  # fmt: skip
    return line, {}


def parse_lines(form: LinesForm) -> tuple[list[LineValues], dict[str, str]]:
    """The lines the form holds (a wholly blank line is skipped), and each error under ``<field>-<index>``."""
    lines: list[LineValues] = []
    errors: dict[str, str] = {}
    for index in range(min(max(len(form.libelle), len(form.prix)), MAX_LINES)):
        typed = [_at(form.libelle, index), _at(form.quantite, index), _at(form.prix, index)]
        if not any(value.strip() for value in typed):
            continue
        line, messages = _row(form, index)
        errors.update(messages)
        if line is not None:
            lines.append(line)
    if not lines and not errors:
        errors["lignes"] = N_("Ajoutez au moins une ligne.")
    return lines, errors
