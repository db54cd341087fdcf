"""The shared form limits: declared once per field, checked before validation, in the person's language."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import pytest

from portal.accounts.controllers import SignInForm
from portal.billing.controllers import EntityForm, MergeForm
from portal.clients import schemas as dossier_schemas
from portal.expenses import schemas as expense_schemas
from portal.firm.controllers import AcceptForm, InviteForm
from portal.i18n import set_locale
from portal.integrations.commerce.controllers import KeyForm, MapperInviteForm, ScheduleForm
from portal.integrations.pennylane.controllers import TokenForm
from portal.ledger.controllers import UploadForm
from portal.web import forms
from portal.web.controllers import LocaleForm

pytestmark = pytest.mark.once  # see pyproject.toml: the embedded run checks it

FORMS = (SignInForm, EntityForm, MergeForm, dossier_schemas.DossierForm, expense_schemas.NoteForm,
         expense_schemas.ExpenseLineForm, expense_schemas.MileageForm, expense_schemas.RefusalForm, AcceptForm,
         InviteForm, KeyForm, MapperInviteForm, ScheduleForm, TokenForm, UploadForm, LocaleForm)  # fmt: skip


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.__name__)
def test_every_text_field_of_every_form_declares_its_maximum_length(form: type) -> None:
    limits = forms.limits(form)
    assert set(limits) == {item.name for item in dataclasses.fields(form)}
    assert all(0 < limit <= forms.SECRET_MAX_LENGTH for limit in limits.values())


def test_a_field_without_a_limit_is_a_programming_error() -> None:
    @dataclass
    class Careless:
        name: str = ""

    with pytest.raises(TypeError, match="no maximum length"):
        forms.limits(Careless)


def test_a_value_too_long_is_cut_and_its_message_wins_over_the_validation_of_what_is_left() -> None:
    form = dossier_schemas.DossierForm(nom="x" * 5_000, cloture="31/12" + " " * 100, code_postal="6900")
    checked = dossier_schemas.validate(form)
    assert checked.values is None
    assert form.nom == "x" * 200
    assert checked.errors["nom"] == "Ce champ ne peut pas dépasser 200 caractères."
    assert checked.errors["cloture"] == "Ce champ ne peut pas dépasser 10 caractères."
    assert checked.errors["code_postal"] == "Code postal invalide : 5 chiffres attendus."


def test_the_message_is_in_the_persons_language_with_its_number_written_their_way() -> None:
    try:
        set_locale("en")
        assert forms.too_long(1024) == "This field cannot be longer than 1,024 characters."
    finally:
        set_locale("fr")
    assert forms.too_long(1024) == "Ce champ ne peut pas dépasser 1\u202f024 caractères."


def test_a_form_read_by_hand_takes_text_only() -> None:
    form, errors = forms.read(UploadForm, {"debut": ["9" * 50, "01/01/2025"], "fin": 12})
    assert (form.debut, form.fin) == ("9" * 20, "12")
    assert list(errors) == ["debut"]


def test_a_posted_form_is_decoded_as_the_browser_sent_it_never_refused() -> None:
    form = forms.decode(dossier_schemas.DossierForm, {"nom": ["Martin", "Durand"], "ville": 12, "autre": "x"})
    assert (form.nom, form.ville, form.cloture) == ("Martin", "12", "31/12"), "first value, as text, defaults kept"
    access = forms.decode(dossier_schemas.ConfidentialityForm, {"acces": "a"})
    assert access.acces == ["a"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("31/12/2025", dt.date(2025, 12, 31)), (" 1.2.2025 ", dt.date(2025, 2, 1)), ("2025-02-01", dt.date(2025, 2, 1)),
     ("31/02/2026", None), ("2022-13-45", None), ("hier", None), ("", None)],
)  # fmt: skip
def test_one_date_parser_reads_the_dates_typed_in_forms(typed: str, expected: dt.date | None) -> None:
    assert forms.parse_date(typed) == expected


def test_a_form_of_fields_not_known_in_advance_gets_every_field_as_text() -> None:
    form = forms.decode(forms.Fields, {"journal.loc-1": ["CA1", "CA2"], "payment.pm": "512"})
    assert form.values == {"journal.loc-1": "CA1", "payment.pm": "512"}
