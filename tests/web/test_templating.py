"""Counts written as the reader's language writes numbers, on every page: one filter (``number``, Babel with the
current locale) and ``ngettext``, which gives it its ``%(num)s``; no template writes a count raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import DictLoader
from litestar.plugins.jinja import JinjaTemplateEngine

from portal.i18n import set_locale
from portal.web.templating import configure, url_with

TEMPLATES = Path(__file__).parents[2] / "templates"
NARROW_NBSP = "\u202f"  # what CLDR puts between French thousands


@pytest.fixture
def engine() -> JinjaTemplateEngine:
    engine = JinjaTemplateEngine(directory=TEMPLATES)
    configure(engine)
    return engine


def _render(engine: JinjaTemplateEngine, source: str, locale: str, **context: object) -> str:
    env = engine.engine
    env.loader = DictLoader({"t.html": source})
    set_locale(locale)
    try:
        return env.get_template("t.html").render(**context)
    finally:
        set_locale("fr")


def test_counts_are_written_with_the_locales_thousands_separator(engine: JinjaTemplateEngine) -> None:
    template = '{{ n | number }} · {{ ngettext("%(num)s dossier", "%(num)s dossiers", n) }}'
    assert _render(engine, template, "fr", n=11982) == f"11{NARROW_NBSP}982 · 11{NARROW_NBSP}982 dossiers"
    assert _render(engine, template, "en", n=11982) == "11,982 · 11,982 companies"
    assert _render(engine, template, "fr", n=1) == "1 · 1 dossier"
    assert _render(engine, template, "fr", n=0) == "0 · 0 dossier"


def test_a_message_s_values_are_escaped_and_num_can_still_be_given(engine: JinjaTemplateEngine) -> None:
    template = '{{ ngettext("%(num)s dossier de %(who)s", "%(num)s dossiers de %(who)s", n, who=who) }}'
    assert _render(engine, template, "fr", n=2, who="<b>") == "2 dossiers de &lt;b&gt;"


def test_no_template_writes_a_count_raw() -> None:
    """``%(num)d`` (or any ``%d``) prints 11982: every count goes through ``ngettext``'s ``%(num)s`` or ``number``."""
    raw = re.compile(r"%\(\w+\)d|%d(?!/)")  # not a date format (strftime("%d/%m/%Y"))
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if raw.search(line)
    ]
    assert offenders == []


def test_list_links_keep_the_other_parameters() -> None:
    assert url_with("/l", {"q": "a b", "tri": "nom", "page": 3}, page=1) == "/l?q=a+b&tri=nom&page=1"
    assert url_with("/l", [("filtre", "x"), ("filtre", "y")], taille=None) == "/l?filtre=x&filtre=y"
    assert url_with("/l", {"q": ""}) == "/l"
