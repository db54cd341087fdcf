"""Pages that belong to no domain: the visitors' language switch (Accueil is ``portal.home``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, post
from litestar.response import Redirect

from portal.auth.guards import PUBLIC
from portal.i18n import LOCALES
from portal.web import forms
from portal.web.context import LOCALE_COOKIE
from portal.web.redirects import local_path


@dataclass
class LocaleForm:
    langue: str = forms.text(forms.CHOICE_MAX_LENGTH, "fr")
    retour: str = forms.text(forms.NEXT_MAX_LENGTH, "/")


class WebController(Controller):
    path = "/"
    include_in_schema = False

    @post("/langue", opt=PUBLIC, name="web:locale")
    async def switch_locale(self, data: Annotated[LocaleForm, forms.POSTED]) -> Redirect:
        """Language for visitors not signed in: remembered in a cookie."""
        return locale_redirect(data)


def supported_locale(locale: str) -> str:
    return locale if locale in LOCALES else "fr"


def locale_redirect(data: LocaleForm) -> Redirect:
    """Back to ``retour``, the language chosen remembered in a cookie."""
    forms.clip(data)  # nothing to show again: a value too long is only cut
    response = Redirect(local_path(data.retour), status_code=303)
    locale = supported_locale(data.langue)
    response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response
