"""Delivering an ``EmailMessage``: to an SMTP server, or to a local outbox of ``.eml`` files.

``PORTAL_SMTP_URL`` chooses (see ``portal.settings.Settings``). Delivery is blocking
(stdlib ``smtplib``): jobs call ``deliver`` in a worker thread. The outbox is what the
embedded mode uses: each message is one file, written under a temporary name and
renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import os
import re
import smtplib
import ssl
import tempfile
import uuid
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from portal.settings import Settings

SMTP_TIMEOUT_SECONDS = 30
# Outbox file names: when it was written, then a random part. Nothing else is ever read.
OUTBOX_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{12}\.eml$")


class MailConfigurationError(ValueError):
    """``PORTAL_SMTP_URL`` cannot be used."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://…``."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        msg = f"PORTAL_SMTP_URL non reconnue : attendu smtp://hôte:port, smtps://…, file:///dossier ou outbox ({parts.scheme}://…)"
        raise MailConfigurationError(msg)
    implicit_tls = parts.scheme == "smtps"
    options = parse_qs(parts.query)
    starttls = options.get("starttls", ["0"])[-1].lower() in {"1", "true", "yes", "on"}
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls,
        starttls=starttls and not implicit_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def send_smtp(message: EmailMessage, url: str) -> None:
    target = parse_smtp_url(url)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.implicit_tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        client.ehlo()
        if target.starttls:
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            client.login(target.username, target.password or "")
        client.send_message(message)
    finally:
        # The message is accepted once send_message returns: a failing QUIT must not make the job retry.
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def write_outbox(message: EmailMessage, directory: Path) -> Path:
    """Write ``message`` as a new ``.eml`` file in ``directory``, atomically; return its path.

    A message may hold a link that lets its recipient in: the folder is the owner's alone
    (700) and so is each file (600).
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o600)  # mkstemp's mode already, said out loud
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(message.as_bytes(policy=email.policy.SMTP))
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def deliver(message: EmailMessage, settings: Settings) -> None:
    """Send ``message`` as ``settings`` say (blocking). Raises on failure, so the job retries."""
    outbox = settings.mail_outbox_dir
    if outbox is not None:
        write_outbox(message, outbox)
        return
    send_smtp(message, settings.smtp_url)
    copies = settings.mail_page_dir
    if copies is not None:
        write_outbox(message, copies)


# --- reading the outbox (the development mail page) ---------------------------------------


@dataclass(frozen=True)
class StoredMessage:
    name: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def recipients(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def sent_at(self) -> dt.datetime | None:
        date = self.message.get("Date")
        return date.datetime if date is not None else None

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if isinstance(body, EmailMessage) else None


def read_message(directory: Path, name: str) -> StoredMessage | None:
    """The message called ``name`` in the outbox, or None (unknown names and other files alike)."""
    if not OUTBOX_NAME.match(name):
        return None
    path = directory / name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    parsed = message_from_bytes(raw, policy=email.policy.default)
    return StoredMessage(name=name, message=parsed)


def list_messages(directory: Path, *, limit: int = 200) -> list[StoredMessage]:
    """The newest messages of the outbox first."""
    if not directory.is_dir():
        return []
    names = sorted((entry.name for entry in directory.iterdir() if OUTBOX_NAME.match(entry.name)), reverse=True)
    found = (read_message(directory, name) for name in names[:limit])
    return [stored for stored in found if stored is not None]
