"""A real SMTP server for the tests (aiosmtpd, on a free local port), and reading what it received."""

from __future__ import annotations

import asyncio
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

LINK = re.compile(r"http://[^\s\"<>]+/invitation/([A-Za-z0-9_-]+)")
RESET_LINK = re.compile(r"http://[^\s\"<>]+/mot-de-passe/([A-Za-z0-9_-]+)")


class Inbox:
    """The messages the server accepted, in order (aiosmtpd's handler)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def _wait(self, count: int, timeout: float) -> list[EmailMessage]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout):
                msg = f"{len(self.messages)} message(s) received, {count} expected after {timeout}s"
                raise AssertionError(msg)
            return list(self.messages)

    async def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:  # noqa: ASYNC109 - a polling deadline
        """Wait until ``count`` messages arrived in all; return them all."""
        return await asyncio.to_thread(self._wait, count, timeout)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in str(message["To"])]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[str, Inbox]]:
    """An SMTP server on 127.0.0.1: its ``smtp://`` URL and its inbox."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def link_token(message: EmailMessage, link: re.Pattern[str] = LINK) -> str:
    """The token of the invitation link in ``message`` (the same in both parts), or of another ``link``."""
    tokens = set(link.findall(text_of(message))) | set(link.findall(html_of(message)))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def reset_token(message: EmailMessage) -> str:
    """The token of the password reset link in ``message``."""
    return link_token(message, RESET_LINK)
