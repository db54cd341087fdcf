"""What reading a FEC tells: issues with their line numbers, the file's shape, counts and totals.

Messages are French msgids with ``%(name)s`` placeholders and string parameters, so that
a report stored as JSON today is shown tomorrow in the reader's language. Amounts in
parameters are written as in a FEC (``1234,50``), dates as ``31/12/2024``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portal.i18n import _


def _render(message: str, params: dict[str, str]) -> str:
    translated = _(message)
    return translated % params if params else translated


class FecFormatError(ValueError):
    """The file cannot be read as a FEC at all (empty, not text, no FEC header, wrong separator)."""

    def __init__(self, code: str, message: str, **params: str) -> None:
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params

    def text(self) -> str:
        return _render(self.message, self.params)


class Severity(StrEnum):
    ERROR = "error"  # the file is refused
    WARNING = "warning"  # worth knowing; the file is imported all the same


@dataclass(frozen=True)
class Issue:
    severity: Severity
    code: str
    message: str
    params: dict[str, str]
    line: int | None = None
    field: str | None = None  # the FEC column (``EcritureDate``), when one is at fault

    def text(self) -> str:
        return _render(self.message, self.params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value, "code": self.code, "message": self.message, "params": self.params,
            "line": self.line, "field": self.field,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        return cls(
            severity=Severity(data["severity"]), code=data["code"], message=data["message"],
            params={str(key): str(value) for key, value in data.get("params", {}).items()},
            line=data.get("line"), field=data.get("field"),
        )  # fmt: skip


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@dataclass
class Report:
    """The outcome of reading a file. ``issues`` keeps the first ones of each severity; the counts are complete."""

    issues: list[Issue] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    line_count: int = 0  # data lines, the header excluded (empty lines are not lines of the FEC)
    entry_count: int = 0
    journal_count: int = 0
    account_count: int = 0
    debit_total: int = 0  # cents
    credit_total: int = 0
    first_date: dt.date | None = None  # the earliest and latest EcritureDate
    last_date: dt.date | None = None
    encoding: str = ""
    separator: str = ""  # the character itself: "\t" or "|"
    column_count: int = 0
    layout: str = ""  # "debit_credit" or "amount_direction" (Montant + Sens)
    variant: str = ""  # "BIC" (18 columns), "BNC" or "BA" (cash basis)
    siren: str | None = None  # from a file name of the form <SIREN>FEC<AAAAMMJJ>
    closing_date: dt.date | None = None

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.WARNING]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: dates as ISO strings, issues as plain dictionaries."""
        return {
            "issues": [issue.to_dict() for issue in self.issues],
            "error_count": self.error_count, "warning_count": self.warning_count, "line_count": self.line_count,
            "entry_count": self.entry_count, "journal_count": self.journal_count,
            "account_count": self.account_count, "debit_total": self.debit_total,
            "credit_total": self.credit_total,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "encoding": self.encoding, "separator": self.separator, "column_count": self.column_count,
            "layout": self.layout, "variant": self.variant, "siren": self.siren,
            "closing_date": self.closing_date.isoformat() if self.closing_date else None,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report ``to_dict`` gave; keys it does not know are ignored (a report stored by an older version)."""
        return cls(
            issues=[Issue.from_dict(issue) for issue in data.get("issues", [])],
            error_count=int(data.get("error_count", 0)), warning_count=int(data.get("warning_count", 0)),
            line_count=int(data.get("line_count", 0)), entry_count=int(data.get("entry_count", 0)),
            journal_count=int(data.get("journal_count", 0)), account_count=int(data.get("account_count", 0)),
            debit_total=int(data.get("debit_total", 0)), credit_total=int(data.get("credit_total", 0)),
            first_date=_date(data.get("first_date")), last_date=_date(data.get("last_date")),
            encoding=str(data.get("encoding", "")), separator=str(data.get("separator", "")),
            column_count=int(data.get("column_count", 0)), layout=str(data.get("layout", "")),
            variant=str(data.get("variant", "")), siren=data.get("siren"),
            closing_date=_date(data.get("closing_date")),
        )  # fmt: skip
