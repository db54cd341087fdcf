"""Building the emails the portal sends, from Jinja templates under ``templates/mail/``.

Each email is one template with three blocks: ``subject``, ``text`` (the plain-text
body, written with autoescaping off) and ``html`` (its HTML alternative). Messages are
rendered in the recipient's language, with the same catalogues as the pages.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from contextlib import contextmanager
from email.headerregistry import Address
from email.message import EmailMessage
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from portal.i18n import get_locale, install_gettext, number, set_locale
from portal.settings import Settings


@cache
def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install_gettext(env)
    env.filters["number"] = number
    return env


@contextmanager
def _in_locale(locale: str) -> Iterator[None]:
    previous = get_locale()
    set_locale(locale)
    try:
        yield
    finally:
        set_locale(previous)


def render(settings: Settings, template: str, locale: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text, html) of ``mail/<template>.html`` in ``locale``."""
    compiled = _environment(settings.templates_dir).get_template(f"mail/{template}.html")
    with _in_locale(locale):
        values = compiled.new_context({**context, "locale": locale})
        parts = tuple("".join(compiled.blocks[block](values)).strip() for block in ("subject", "text", "html"))
    subject, text, html = parts
    # One environment escapes for HTML; the subject and the plain text are not HTML, so the escaping is
    # undone there exactly ("Durand & Associés", not "Durand &amp; Associés").
    subject, text = unescape(subject), unescape(text)
    return " ".join(subject.split()), text + "\n", html + "\n"


def build(
    settings: Settings, *, to_email: str, to_name: str, template: str, locale: str, **context: Any
) -> EmailMessage:
    """A ready-to-send message: plain text with an HTML alternative, from ``settings.mail_from``."""
    subject, text, html = render(settings, template, locale, **context)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = Address(display_name=to_name, addr_spec=to_email)
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    sender = email.utils.parseaddr(settings.mail_from)[1]
    message["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def invitation(
    settings: Settings,
    *,
    to_email: str,
    to_name: str,
    locale: str,
    link: str,
    inviter_name: str | None,
    firm_name: str | None,
    valid_days: int,
    firm_roles: list[str] | None = None,
    dossiers: list[tuple[str, list[str]]] | None = None,
) -> EmailMessage:
    """The invitation: who invites, to which portal, the roles given (firm roles, and the dossiers of each dossier
    role, only those the person will see), and the link to choose a password."""
    return build(
        settings, to_email=to_email, to_name=to_name, template="invitation", locale=locale, name=to_name,
        link=link, inviter_name=inviter_name, firm_name=firm_name, valid_days=valid_days,
        sign_in_url=f"{settings.base_url}/connexion", firm_roles=firm_roles or [], dossiers=dossiers or [],
    )  # fmt: skip


def access_notice(
    settings: Settings,
    *,
    to_email: str,
    to_name: str,
    locale: str,
    roles: list[str],
    inviter_name: str | None,
    firm_name: str | None,
    firm_roles: list[str] | None = None,
    dossiers: list[tuple[str, list[str]]] | None = None,
) -> EmailMessage:
    """To someone who already has an account: the roles they were given, and their access as it stands (firm roles,
    and the dossiers they see by role)."""
    return build(
        settings, to_email=to_email, to_name=to_name, template="access", locale=locale, name=to_name,
        roles=roles, inviter_name=inviter_name, firm_name=firm_name, sign_in_url=f"{settings.base_url}/connexion",
        firm_roles=firm_roles or [], dossiers=dossiers or [],
    )  # fmt: skip


def password_reset(
    settings: Settings, *, to_email: str, to_name: str, locale: str, link: str, valid_minutes: int
) -> EmailMessage:
    """Mot de passe oublié ?: the link that sets a new password, once, for ``valid_minutes``."""
    return build(
        settings, to_email=to_email, to_name=to_name, template="password_reset", locale=locale, name=to_name,
        link=link, valid_minutes=valid_minutes, sign_in_url=f"{settings.base_url}/connexion",
    )  # fmt: skip


def password_changed(settings: Settings, *, to_email: str, to_name: str, locale: str) -> EmailMessage:
    """The person's password was changed (by them, or through a reset link): what to do if it was not them."""
    return build(
        settings, to_email=to_email, to_name=to_name, template="password_changed", locale=locale, name=to_name,
        forgotten_url=f"{settings.base_url}/mot-de-passe-oublie",
    )  # fmt: skip
