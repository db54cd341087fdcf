"""Delivering email where ``PORTAL_SMTP_URL`` says: an SMTP server (with credentials), or the local outbox."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from portal.mail import messages
from portal.mail.transport import (
    MailConfigurationError,
    SmtpTarget,
    deliver,
    list_messages,
    parse_smtp_url,
    read_message,
    write_outbox,
)
from portal.settings import OUTBOX, Settings
from tests.smtp import Inbox, free_port, html_of, text_of


def _invitation(settings: Settings, name: str = "Claire & Fils <Martin>") -> EmailMessage:
    return messages.invitation(
        settings, to_email="claire@exemple.fr", to_name=name, locale="fr", link="http://portail/invitation/abc",
        inviter_name="Hélène", firm_name="Cabinet Lumière", valid_days=7,
    )  # fmt: skip


def _target(host: str, port: int, *, tls: bool = False, starttls: bool = False, user: str | None = None,
            password: str | None = None) -> SmtpTarget:  # fmt: skip
    return SmtpTarget(host, port, implicit_tls=tls, starttls=starttls, username=user, password=password)


def test_smtp_urls() -> None:
    assert parse_smtp_url("smtp://mail.cabinet.fr") == _target("mail.cabinet.fr", 25)
    assert parse_smtp_url("smtp://u%40x:p%3Aw@mail:587?starttls=1") == _target(
        "mail", 587, starttls=True, user="u@x", password="p:w"
    )
    assert parse_smtp_url("smtps://mail") == _target("mail", 465, tls=True)
    with pytest.raises(MailConfigurationError, match="PORTAL_SMTP_URL non reconnue"):
        parse_smtp_url("http://mail")


def test_the_settings_choose_the_outbox_and_the_mail_page(settings: Settings, tmp_path: Path) -> None:
    embedded = settings.with_overrides(smtp_url=OUTBOX, dev_mail_page=True)
    assert embedded.mail_outbox_dir == settings.var_dir / "mail"
    assert embedded.mail_page_dir == settings.var_dir / "mail"
    assert settings.with_overrides(smtp_url=f"file://{tmp_path}").mail_outbox_dir == tmp_path
    real = settings.with_overrides(smtp_url="smtp://mail:25", dev_mail_page=False)
    assert real.mail_outbox_dir is None
    assert real.mail_page_dir is None
    # A development mail sandbox: sent, and copied for the page.
    assert (
        settings.with_overrides(smtp_url="smtp://mail:25", dev_mail_page=True).mail_page_dir
        == settings.var_dir / "mail"
    )


def test_the_outbox_keeps_whole_messages_and_reads_only_its_own_files(settings: Settings, tmp_path: Path) -> None:
    local = settings.with_overrides(smtp_url=f"file://{tmp_path}")
    deliver(_invitation(local), local)
    deliver(_invitation(local, "Second"), local)
    (tmp_path / "notes.txt").write_text("pas un courriel")
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".eml", ".eml", ".txt"]  # no temporary file left
    newest, oldest = list_messages(tmp_path)
    assert newest.name > oldest.name
    assert newest.recipients == "Second <claire@exemple.fr>"
    assert oldest.subject == "Cabinet Lumière vous invite sur son portail"
    assert "Bonjour Claire & Fils <Martin>," in (oldest.part("plain") or "")
    assert "Bonjour Claire &amp; Fils &lt;Martin&gt;," in (oldest.part("html") or "")  # escaped in HTML only
    assert read_message(tmp_path, "notes.txt") is None
    assert read_message(tmp_path, "../" + tmp_path.name + "/" + newest.name) is None
    assert write_outbox(EmailMessage(), tmp_path / "new").parent == tmp_path / "new"


def test_smtp_with_credentials(settings: Settings) -> None:
    inbox = Inbox()
    logins: list[tuple[str, str]] = []

    def authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert mechanism in {"LOGIN", "PLAIN"}
        assert isinstance(data, LoginPassword)
        logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret:mot")

    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False)
    server.start()
    try:
        sender = settings.with_overrides(
            smtp_url=f"smtp://portail%40cabinet.fr:s3cret%3Amot@127.0.0.1:{port}",
            dev_mail_page=False,
            mail_from="Cabinet Lumière <portail@cabinet.fr>",
        )
        deliver(_invitation(sender), sender)
    finally:
        server.stop()
    assert logins == [("portail@cabinet.fr", "s3cret:mot")]
    [message] = inbox.messages
    assert inbox.envelopes == [("portail@cabinet.fr", ["claire@exemple.fr"])]
    assert message["From"] == "Cabinet Lumière <portail@cabinet.fr>"
    assert "http://portail/invitation/abc" in text_of(message)
    assert 'href="http://portail/invitation/abc"' in html_of(message)


def test_a_refused_delivery_raises_so_the_job_retries(settings: Settings) -> None:
    closed = settings.with_overrides(smtp_url=f"smtp://127.0.0.1:{free_port()}", dev_mail_page=False)
    with pytest.raises(ConnectionRefusedError):
        deliver(_invitation(closed), closed)


def test_the_subject_and_the_plain_text_are_not_html_escaped(settings: Settings) -> None:
    message = messages.invitation(
        settings, to_email="paul@boulangerie.fr", to_name="Paul <Martin>", locale="fr",
        link="http://127.0.0.1:8000/invitation/abc", inviter_name="Marc & Co", firm_name="Durand & Associés",
        valid_days=7,
    )  # fmt: skip
    assert str(message["Subject"]) == "Durand & Associés vous invite sur son portail"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Marc & Co vous invite" in str(text.get_content())  # type: ignore[attr-defined]
    assert "&amp;" not in str(text.get_content())  # type: ignore[attr-defined]
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert "Marc &amp; Co" in str(html.get_content())  # type: ignore[attr-defined]
