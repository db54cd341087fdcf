"""Company names as the portal compares them: for sorting, searching and spotting duplicates.

Two names that differ only by case, accents, punctuation or a legal-form word
("SARL", "S.A.S.", "EURL"…) are the same name for duplicate detection: "Boulangerie
Martin SARL" and "boulangerie martin" match.
"""

from __future__ import annotations

import re
import unicodedata

# Legal forms (and their usual abbreviations) dropped when comparing names.
LEGAL_FORM_WORDS = frozenset(
    {
        "sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "scs", "sca", "scp", "scm", "sel", "selarl",
        "selas", "selasu", "selafa", "selca", "sep", "ei", "eirl", "earl", "gaec", "gie", "scea", "scop",
        "scic", "sem", "spfpl", "sprl", "srl", "micro", "entreprise", "unipersonnelle", "ste", "societe",
        "association", "asso",  # the legal form "Association" of the dossier form, and its abbreviation
    }
)  # fmt: skip
_NOT_WORD = re.compile(r"[^0-9a-z]+")
MAX_TERMS = 12
MAX_TERM_LENGTH = 40


def fold(value: str) -> str:
    """Lower-case ASCII: accents removed, ligatures spelled out, anything else a space."""
    decomposed = unicodedata.normalize("NFKD", value.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae"))
    ascii_only = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", ascii_only.lower()).strip()


def _join_initials(words: list[str]) -> list[str]:
    # "S.A.R.L." folds to "s a r l": single letters in a row are one abbreviation, except that a
    # legal form spelled out at their start is a word of its own ("s a r l j" -> "sarl", "j";
    # "a b c" -> "abc").
    joined: list[str] = []
    letters: list[str] = []
    index = 0
    while index < len(words):
        if len(words[index]) != 1:
            if letters:
                joined.append("".join(letters))
                letters = []
            joined.append(words[index])
            index += 1
            continue
        run_end = index
        while run_end < len(words) and len(words[run_end]) == 1:
            run_end += 1
        form = next(
            (stop for stop in range(run_end, index + 1, -1) if "".join(words[index:stop]) in LEGAL_FORM_WORDS), None
        )
        if form is not None and not letters:
            joined.append("".join(words[index:form]))
            index = form
        else:
            letters.append(words[index])
            index += 1
    if letters:
        joined.append("".join(letters))
    return joined


def sort_key(name: str) -> str:
    """How names sort: case and accents ignored."""
    return fold(name)[:200]


def match_key(name: str) -> str:
    """The key two names share when they are the same company name (legal forms ignored)."""
    words = [word for word in _join_initials(fold(name).split()) if word not in LEGAL_FORM_WORDS]
    return " ".join(words)[:200]


def search_terms(name: str) -> list[str]:
    """The words a name can be found by (each is matched by prefix), in order, without repeats."""
    terms: list[str] = []
    for word in fold(name).split():
        term = word[:MAX_TERM_LENGTH]
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def query_terms(query: str) -> list[str]:
    """The words of a search query; every one must prefix a word of the name."""
    return search_terms(query)
