"""The English catalogue covers every message the portal can show."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from portal.i18n import LOCALE_DIR, N_, gettext, set_locale

pytestmark = pytest.mark.once  # see pyproject.toml: the embedded run checks it


def test_every_message_has_an_english_translation() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        english = read_po(handle, locale="en")
    missing = [
        message.id
        for message in template
        if message.id and not (english.get(message.id) and english.get(message.id).string)
    ]
    assert missing == []
    fuzzy = [message.id for message in english if message.id and message.fuzzy]
    assert fuzzy == []


def test_translation_follows_the_chosen_locale() -> None:
    set_locale("en")
    assert gettext(N_("Entreprises")) == "Companies"
    set_locale("fr")
    assert gettext(N_("Entreprises")) == "Entreprises"
