"""Company names as the portal compares them: sorting, searching, spotting the same name twice."""

from __future__ import annotations

import pytest

from portal.clients import names


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Boulangerie Martin SARL", "boulangerie  martin"),
        ("SARL Boulangerie Martin", "Boulangerie Martin"),
        ("S.A.R.L. Dupont & Fils", "Dupont & Fils"),
        ("S.A.R.L. Dupont & Fils", "DUPONT - FILS"),
        ("SAS Éléphant Bleu", "elephant bleu"),
        ("Éléphant Bleu S.A.S.", "ELEPHANT BLEU"),
        ("EURL Café du Théâtre", "Cafe du theatre"),
        ("Café du Théâtre S.A.S.U.", "cafe du theatre"),
        ("Œuvres du Cœur", "oeuvres du coeur"),
        ("A.B.C. Conseil", "ABC Conseil"),
        ("S.A.R.L. J. Dupont", "J. Dupont SARL"),  # a dotted legal form does not swallow the initial after it
        ("E.U.R.L. A.B.C. Conseil", "abc conseil"),
        ("Garage   du\tCentre", "garage du centre"),
    ],
)
def test_same_name_for_duplicate_detection(first: str, second: str) -> None:
    assert names.match_key(first) == names.match_key(second)
    assert names.match_key(first) != ""


def test_match_key_spells_out_the_name() -> None:
    assert names.match_key("Boulangerie Martin SARL") == "boulangerie martin"
    assert names.match_key("S.A.R.L. Dupont & Fils") == "dupont fils"
    assert names.match_key("Société Générale") == "generale"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Boulangerie Martin", "Boulangerie Martine"),
        ("Dupont et Fils", "Dupont & Fils"),  # "et" is a word; "&" is punctuation
        ("Martin Boulangerie", "Boulangerie Martin"),  # word order counts
        ("Garage du Centre", "Garage du Centre Est"),
    ],
)
def test_different_names_stay_different(first: str, second: str) -> None:
    assert names.match_key(first) != names.match_key(second)


def test_a_name_made_only_of_a_legal_form_has_an_empty_key() -> None:
    assert names.match_key("S.A.R.L.") == ""
    assert names.match_key("SAS") == ""


def test_fold_removes_case_accents_and_punctuation() -> None:
    assert names.fold("  L'Atelier d'Élodie — Crêpes & Cie ! ") == "l atelier d elodie crepes cie"
    assert names.fold("ÇA COÛTE") == "ca coute"
    assert names.fold("Œil de Bœuf, Ex æquo") == "oeil de boeuf ex aequo"


def test_search_terms_in_order_without_repeats() -> None:
    assert names.search_terms("Boulangerie Martin SARL") == ["boulangerie", "martin", "sarl"]
    assert names.search_terms("Le Bon, le Beau et LE Brut") == ["le", "bon", "beau", "et", "brut"]
    assert names.search_terms("Restaurant Le Cèdre") == ["restaurant", "le", "cedre"]
    assert names.search_terms("Martin & Martin") == ["martin"]
    assert names.search_terms("") == []


def test_search_terms_are_bounded() -> None:
    long_name = " ".join(f"mot{number}" for number in range(20))
    terms = names.search_terms(long_name)
    assert terms == [f"mot{number}" for number in range(names.MAX_TERMS)]
    [term] = names.search_terms("x" * 60)
    assert term == "x" * names.MAX_TERM_LENGTH


def test_query_terms_fold_like_names() -> None:
    assert names.query_terms("  BOUL  cèdre ") == ["boul", "cedre"]
    assert names.query_terms("l'oréal") == names.search_terms("L'Oréal")


def test_sort_key_folds_accents_and_case() -> None:
    unsorted = ["Zoé Conseil", "éclair Boulangerie", "Ébéniste Dupuis", "abeille SARL", "Étoile", "Eden"]
    assert sorted(unsorted, key=names.sort_key) == [
        "abeille SARL",
        "Ébéniste Dupuis",
        "éclair Boulangerie",
        "Eden",
        "Étoile",
        "Zoé Conseil",
    ]
    assert names.sort_key("Éléphant Bleu SAS") == "elephant bleu sas"  # legal forms are kept for sorting
    assert len(names.sort_key("a" * 300)) == 200
