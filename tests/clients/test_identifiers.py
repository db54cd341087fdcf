"""SIREN, SIRET and VAT numbers as people type them: one SIREN out, or one French message."""

from __future__ import annotations

import pytest

from portal.clients.identifiers import (
    CompanyIdentifier,
    IdentifierError,
    compact,
    format_siren,
    format_siret,
    parse,
    siren_prefix,
    vat_number,
)

pytestmark = pytest.mark.once  # see pyproject.toml: the embedded run checks it

SIREN_CHECKSUM = "SIREN invalide : la clé de contrôle ne correspond pas."
SIRET_CHECKSUM = "SIRET invalide : la clé de contrôle ne correspond pas."
WRONG_LENGTH = "Longueur incorrecte : un SIREN compte 9 chiffres et un SIRET 14."
NOT_DIGITS = "Le SIREN ne doit contenir que des chiffres (9 pour un SIREN, 14 pour un SIRET)."
EMPTY = "Saisissez un SIREN (9 chiffres) ou un SIRET (14 chiffres)."
VAT_KEY = "Numéro de TVA invalide : la clé ne correspond pas au SIREN."


def _error(raw: str) -> str:
    with pytest.raises(IdentifierError) as caught:
        parse(raw)
    assert str(caught.value) == caught.value.message
    return caught.value.message


@pytest.mark.parametrize("typed", ["732829320", "732 829 320", "732.829.320", "732-829-320", " 732 829 320 "])
def test_siren_typed_with_separators(typed: str) -> None:
    parsed = parse(typed)
    assert parsed == CompanyIdentifier(siren="732829320", nic=None)
    assert parsed.siret is None
    assert parsed.vat_number == "FR44732829320"


@pytest.mark.parametrize(
    ("siren", "vat"),
    [
        ("552008443", "FR19552008443"),
        ("404833048", "FR83404833048"),
        ("443121975", "FR46443121975"),
    ],
)
def test_real_sirens_and_their_vat_numbers(siren: str, vat: str) -> None:
    parsed = parse(siren)
    assert parsed.siren == siren
    assert parsed.vat_number == vat
    assert vat_number(siren) == vat


@pytest.mark.parametrize("siren", ["350792008", "480318245", "775672272", "820043784"])
def test_more_real_sirens_are_accepted(siren: str) -> None:
    assert parse(siren).siren == siren
    assert parse(format_siren(siren)).siren == siren


def test_siret_keeps_the_siren_and_the_nic() -> None:
    parsed = parse("732 829 320 00074")
    assert parsed.siren == "732829320"
    assert parsed.nic == "00074"
    assert parsed.siret == "73282932000074"
    assert parsed.vat_number == "FR44732829320"


def test_another_real_siret() -> None:
    parsed = parse("44126652500019")
    assert (parsed.siren, parsed.nic) == ("441266525", "00019")
    assert parsed.vat_number == "FR41441266525"


def test_siren_with_a_wrong_check_digit() -> None:
    assert _error("732 829 321") == SIREN_CHECKSUM
    assert _error("552008444") == SIREN_CHECKSUM


def test_siret_with_a_wrong_check_digit() -> None:
    assert _error("732 829 320 00075") == SIRET_CHECKSUM
    assert _error("44126652500018") == SIRET_CHECKSUM


def test_la_poste_sirets_follow_their_own_rule() -> None:
    # La Poste's establishments do not pass the Luhn rule on 14 digits; their own rule applies.
    branch = parse("356 000 000 49837")
    assert (branch.siren, branch.nic) == ("356000000", "49837")
    head_office = parse("35600000000048")
    assert (head_office.siren, head_office.nic) == ("356000000", "00048")
    assert _error("35600000049838") == SIRET_CHECKSUM


@pytest.mark.parametrize("typed", ["12345", "7328293201", "1234567890123", "732 829 320 000 740"])
def test_wrong_length(typed: str) -> None:
    assert _error(typed) == WRONG_LENGTH


@pytest.mark.parametrize("typed", ["73282932A", "SIREN 732829320", "XX44732829320", "732829320 RCS"])
def test_letters_are_refused(typed: str) -> None:
    assert _error(typed) == NOT_DIGITS


@pytest.mark.parametrize("typed", ["", "   ", " . - "])
def test_nothing_typed(typed: str) -> None:
    assert _error(typed) == EMPTY


@pytest.mark.parametrize("typed", ["FR44732829320", "fr 44 732 829 320", "FR 44 732.829.320"])
def test_vat_number_gives_the_siren(typed: str) -> None:
    parsed = parse(typed)
    assert parsed == CompanyIdentifier(siren="732829320")
    assert parsed.vat_number == "FR44732829320"


def test_vat_numbers_of_other_companies() -> None:
    assert parse("FR19552008443").siren == "552008443"
    assert parse("FR83404833048").siren == "404833048"
    assert parse("FR46443121975").siren == "443121975"


def test_vat_number_with_a_wrong_key() -> None:
    assert _error("FR45732829320") == VAT_KEY
    # The key of another company's number.
    assert _error("FR19404833048") == VAT_KEY


def test_compact_and_display_forms() -> None:
    assert compact(" 732.829-320 / 00074 ") == "73282932000074"
    assert compact("fr44") == "FR44"
    assert format_siren("732829320") == "732 829 320"
    assert format_siren(None) == ""
    assert format_siret("732829320", "00074") == "732 829 320 00074"
    assert format_siret("732829320", None) == ""


@pytest.mark.parametrize(
    ("query", "prefix"),
    [
        ("732", "732"),
        ("732 829", "732829"),
        ("732.829.320", "732829320"),
        ("732 829 320 00074", "732829320"),  # a SIRET searches its SIREN
        ("Boulangerie", None),
        ("7a", None),
        ("FR44732829320", None),
        ("", None),
        ("  ", None),
    ],
)
def test_siren_prefix(query: str, prefix: str | None) -> None:
    assert siren_prefix(query) == prefix
