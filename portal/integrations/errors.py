"""What every source's errors carry: ``message``, a French msgid (marked with ``N_``) without
placeholders, stored and translated where it is shown; ``detail`` for the logs (status, body
excerpt), never a key or a token; the HTTP ``status`` when an answer gave one; ``source``, the
source's name when one provider serves several (for the logs too)."""

from __future__ import annotations

from portal.i18n import N_, gettext


class SourceError(Exception):
    default_message = N_("La source n'a pas pu répondre à la demande.")

    def __init__(
        self, message: str | None = None, *, source: str = "", detail: str = "", status: int | None = None
    ) -> None:
        self.message = message or self.default_message
        self.source = source
        self.detail = detail
        self.status = status
        words = f"{source} : {self.message}" if source else self.message
        super().__init__(f"{words} ({detail})" if detail else words)

    def text(self) -> str:
        """The message in the current language."""
        return gettext(self.message)
