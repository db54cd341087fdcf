"""Counts in the portal's words always go through ``ngettext``: no « erreur(s) », no number glued to a noun.

The French catalogue's plural rules (0 and 1 singular, « 0 erreur, 1 avertissement, 2 lignes ») and the
English ones only apply to messages built with ``ngettext``. This scans the source for the ways a count
slips past it: a ``(s)`` in a message; a count placeholder (``%(count)s``, ``%(errors)s``…) followed by a
word in a message given to ``_()``/``N_()``/``gettext``; an f-string putting a count before a word; and in
templates, a printed count (``{{ n }}``, ``{{ items | length }}``) followed by a word.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import portal

pytestmark = pytest.mark.once  # see pyproject.toml: the embedded run checks it

PORTAL = Path(portal.__file__).resolve().parent
TEMPLATES = PORTAL.parent / "templates"
# Placeholders and expressions that hold a number of things.
COUNT = re.compile(
    r"(^|_|\b)(count|counts|n|num|number|total|errors|warnings|lines|minutes|hours|days|seconds|max|min|limit|"
    r"found|shown|left|created|sessions|length|size|pages|attempts|tries|remaining)($|_|\b)"
)
# A word after a count that is a unit (written the same for one or many), or the verb of an ordinal (« l'essai 2 a »).
UNITS = frozenset(
    {
        "j",
        "h",
        "min",
        "km",
        "CV",
        "Ko",
        "Mo",
        "Mio",
        "pt",
        "pts",
        "s",
        "x",
        "sur",
        "à",
        "au",
        "et",
        "a",
        "EUR",
        "lh",
    }  # a CSS height in lines (the invoice form's slots)
)
# Fixed limits, always many (a FEC's longest line or header): no count of one to agree with.
ALLOWED = frozenset({"HEADER_TOO_LONG", "LINE_TOO_LONG"})
# The local stand-ins of outside services speak as those services do, not through the catalogue.
SANDBOX = frozenset({PORTAL / "sandbox", TEMPLATES / "sandbox"})
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]\s+([\wéèêàç]+)")
WORD_AFTER = re.compile(r"^\s+([A-Za-zéèêàç]+)")
GETTEXT = frozenset({"_", "N_", "gettext"})


def _files(root: Path, pattern: str) -> list[Path]:
    return [path for path in sorted(root.rglob(pattern)) if not any(path.is_relative_to(box) for box in SANDBOX)]


def _allowed(tree: ast.AST) -> set[int]:
    """The lines of the constants in ``ALLOWED`` (their message may span several)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ALLOWED for t in node.targets):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _python() -> Iterator[tuple[Path, ast.AST]]:
    for path in _files(PORTAL, "*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = _allowed(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) not in allowed:
                yield path, node


def _counted_words(message: str) -> list[str]:
    """The count placeholders of ``message`` glued to a word that should agree with them."""
    return [
        f"%({name})s {word}" for name, word in PLACEHOLDER.findall(message) if COUNT.search(name) and word not in UNITS
    ]


def python_offences() -> list[str]:
    found: list[str] = []
    for path, node in _python():
        where = f"{path.relative_to(PORTAL.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT and node.args:
            message = node.args[0]
            if isinstance(message, ast.Constant) and isinstance(message.value, str):
                if "(s)" in message.value:
                    found.append(f"{where}: « (s) » in {message.value!r}")
                found.extend(f"{where}: {glued}" for glued in _counted_words(message.value))
        elif isinstance(node, ast.JoinedStr):
            parts = node.values
            if any(isinstance(part, ast.Constant) and "(s)" in str(part.value) for part in parts):
                found.append(f"{where}: « (s) » in an f-string")
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, ast.FormattedValue)
                    and isinstance(after, ast.Constant)
                    and isinstance(after.value, str)
                    and (word := WORD_AFTER.match(after.value))
                    and COUNT.search(ast.unparse(before.value))
                    and word.group(1) not in UNITS
                ):
                    found.append(f"{where}: {{{ast.unparse(before.value)}}} {word.group(1)}")
    return sorted(set(found))


TEMPLATE_GETTEXT = re.compile(r"(?<![\w.])_\(\s*\"((?:[^\"\\]|\\.)*)\"|(?<![\w.])_\(\s*'((?:[^'\\]|\\.)*)'")
PRINTED = re.compile(
    r"\{\{\s*([^{}]+?)\s*\}\}\s*(?:\{\{\s*_\(\s*[\"']([^\"']+)[\"']\s*\)\s*\}\}|([A-Za-zéèêàç(][\w()éèêàç]*))"
)


def template_offences() -> list[str]:
    found: list[str] = []
    for path in _files(TEMPLATES, "*.html"):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(TEMPLATES.parent)
        for match in TEMPLATE_GETTEXT.finditer(text):
            message = match.group(1) or match.group(2) or ""
            line = text.count("\n", 0, match.start()) + 1
            if "(s)" in message:
                found.append(f"{name}:{line}: « (s) » in {message!r}")
            found.extend(f"{name}:{line}: {glued}" for glued in _counted_words(message))
        for match in PRINTED.finditer(text):
            expression, translated, word = match.group(1), match.group(2), match.group(3)
            after = (translated or word or "").split()[0]
            if COUNT.search(expression) and "ngettext" not in expression and after not in UNITS:
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {{{{ {expression} }}}} {after}")
    return sorted(set(found))


def test_no_count_is_glued_to_a_word_in_python() -> None:
    assert python_offences() == []


def test_no_count_is_glued_to_a_word_in_templates() -> None:
    assert template_offences() == []


def test_the_scan_catches_each_way_a_count_slips_past_ngettext() -> None:
    assert _counted_words("Le fichier contient %(errors)s erreurs et %(warnings)s avertissements.") == [
        "%(errors)s erreurs",
        "%(warnings)s avertissements",
    ]
    assert _counted_words("%(km)s km, %(name)s a écrit") == []
    sample = 'x {{ report.column_count }} {{ _("colonnes") }} y {{ items | length }} lignes {{ n | number }} %'
    printed = [(m.group(1), m.group(2) or m.group(3)) for m in PRINTED.finditer(sample)]
    assert printed[:2] == [("report.column_count", "colonnes"), ("items | length", "lignes")]
    assert all(COUNT.search(expression) for expression, _word in printed[:2])
