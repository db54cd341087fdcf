"""The English catalogue over every page: signed in with English, a partner and a collaborator crawl every
GET route they can reach (as the confidentiality test does) and no French is left in what they read.

French is recognised two ways: a message of the French catalogue shown as it is (every msgid that has an
English translation different from it, cut at its placeholders), and French-only words that no English page
says (« vous », « aucun », « été »…). Data is not the interface: the names, labels and lines the test's world
holds (companies, people, accounting labels of its FEC lines) are removed before looking.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import portal
from portal.accounts.models import User
from portal.auth.roles import DossierRole
from portal.billing.models import BillingClient
from portal.clients.models import Dossier
from portal.dashboard.models import Report
from portal.expenses.models import ExpenseLine, ExpenseNote
from portal.i18n import LOCALE_DIR
from portal.ledger.models import Account, Entry, Journal, Line
from tests.auth.test_confidentiality import as_user, build_world, crawl, get_seeds
from tests.factories.firm import add_role

pytestmark = pytest.mark.once  # see pyproject.toml: the embedded run checks it

PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"
ROOT = Path(portal.__file__).resolve().parent.parent
# Words only French says (compared whole, case-insensitive) in an interface's text.
FRENCH_WORDS = frozenset({
    "vous", "votre", "vos", "aucun", "aucune", "été", "êtes", "n'a", "n'est", "c'est", "qu'il", "ceci", "cette",
    "avec", "dans", "depuis", "entre", "sont", "ont", "peut", "doit", "leurs", "puis", "ainsi", "jusqu'au",
    "modifier", "supprimer", "enregistrer", "rechercher", "précédent", "suivant", "nouveau", "nouvelle",
    "paramètres", "utilisateurs", "entreprises", "travaux", "accueil", "connexions", "écritures", "exercice",
    "terminé", "échec", "oui", "non", "erreur", "erreurs", "avertissement", "ligne", "lignes", "jours",
})  # fmt: skip
WORD = re.compile(r"[\wÀ-ÿ'’]+")
TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.DOTALL)
ATTRIBUTES = re.compile(r'(?:title|placeholder|aria-label|alt)="([^"]*)"')
# Pages that are not the portal's interface: the stand-ins of outside services, and the outbox of development.
NOT_THE_PORTAL = ("/bac-a-sable", "/sandbox", "/dev/")


def _catalogue() -> list[tuple[str, str | tuple[str, ...]]]:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    return [(message.id, message.string) for message in catalog if message.id]


def french_fragments() -> set[str]:
    """Each French msgid's longest fixed part (between placeholders), when its English differs and it is long
    enough to be told from data: shown on an English page, it was not translated."""
    fragments: set[str] = set()
    for message_id, english in _catalogue():
        ids = message_id if isinstance(message_id, tuple) else (message_id,)
        strings = english if isinstance(english, tuple | list) else (english,)
        for french in ids:
            if french in strings:
                continue
            part = max(re.split(r"%\(\w+\)[sd]|%[sd]", french), key=len).strip(" :;,.«»()")
            if len(part) >= 12 and " " in part:
                fragments.add(part)
    return fragments


def visible_text(page: str) -> str:
    return html.unescape(TAGS.sub(" ", page) + " " + " ".join(ATTRIBUTES.findall(page)))


async def data_of(session: AsyncSession) -> list[str]:
    """What the world holds that pages show as it is: names, labels, titles, FEC lines."""
    columns = (
        *(Dossier.name, User.name, BillingClient.name, ExpenseNote.title, ExpenseLine.merchant, ExpenseLine.purpose),
        *(Report.title, Report.comment, Account.label, Journal.label, Entry.label, Line.label),
    )
    found: set[str] = set()
    for column in columns:
        found.update(value for value in (await session.execute(select(column).distinct())).scalars() if value)
    return sorted(found, key=len, reverse=True)


def french_in(text: str, fragments: set[str], data: list[str]) -> Iterator[str]:
    for value in data:
        text = text.replace(value, " ")
    for fragment in fragments:
        if fragment in text:
            yield f"« {fragment} »"
    for word in WORD.findall(text):
        if word.lower() in FRENCH_WORDS:
            yield word


async def test_every_page_reads_in_english(app: Litestar, client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    world = await build_world(db_session)
    collaborator = (await db_session.execute(select(User).where(User.name == "Hugo Employé"))).scalar_one()
    await add_role(db_session, collaborator, world.twin, DossierRole.ACCOUNTANT)
    for person in (world.granted, collaborator):
        person.locale = "en"
    await db_session.flush()
    fragments = french_fragments()
    data = await data_of(db_session)
    untranslated: dict[str, list[str]] = {}
    crawled = 0
    for person in (world.granted, collaborator):
        await as_user(client, person)
        client.cookies.set("portal_lang", "en")  # the language switch's cookie: pages before sign-in too
        pages = await crawl(client, get_seeds(app, world.hidden | world.visible))
        for url, response in pages.items():
            if url.startswith(NOT_THE_PORTAL) or "html" not in response.headers.get("content-type", ""):
                continue
            crawled += 1
            found = sorted(set(french_in(visible_text(response.text), fragments, data)))
            if found:
                untranslated[f"{person.name} {url}"] = found
    assert crawled > 100
    assert untranslated == {}, "\n".join(f"{where}: {found}" for where, found in untranslated.items())


def test_the_english_catalogue_is_complete() -> None:
    """Every entry has its English; a plural entry has both forms and the placeholders of its French."""
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    empty, one_form, placeholders = [], [], []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            empty.append(ids[0])
        if isinstance(message.id, tuple) and len(strings) != 2:
            one_form.append(ids[0])
        wanted = set(re.findall(r"%\(\w+\)", ids[-1]))
        if any(set(re.findall(r"%\(\w+\)", string)) - wanted for string in strings if string):
            placeholders.append(ids[0])
    assert empty == []
    assert one_form == []
    assert placeholders == []


def test_every_message_of_the_source_is_in_the_english_catalogue() -> None:
    """What ``make i18n`` would extract (``_``, ``N_``, ``NP_``, ``ngettext``, in Python and templates,
    ``_partials`` included) is in the catalogue with its English, a plural as a plural."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "NP_": (1, 2)}
    methods = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    missing = []
    extracted = extract_from_dir(
        ROOT, method_map=methods, options_map=options, keywords=keywords,
        directory_filter=lambda path: not Path(path).name.startswith(".") and Path(path).name != "sandbox",
    )  # fmt: skip
    for filename, line, message, _comments, _context in extracted:
        first = message if isinstance(message, str) else message[0]
        entry = catalog.get(first)
        strings = () if entry is None else entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
        plural_ok = isinstance(message, str) or (entry is not None and isinstance(entry.id, tuple))
        if first and not (entry is not None and all(strings) and plural_ok):
            missing.append(f"{filename}:{line}: {message!r}")
    assert missing == []


def test_french_is_recognised() -> None:
    fragments = french_fragments()
    assert "Aucun événement." in fragments or "Aucun événement" in fragments
    text = visible_text("<p>Julie Bernard a soumis la note</p><a title='x' aria-label=\"Fermer le volet\">✕</a>")
    assert list(french_in(text, fragments, ["Julie Bernard"])) != []
    assert list(french_in("Julie Bernard submitted expense note NDF-2026-0012", fragments, ["Julie Bernard"])) == []
