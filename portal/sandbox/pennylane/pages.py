"""The sandbox's few HTML pages (consent, API tokens), rendered by a Jinja environment of their own.

They stand in for an outside site, so they do not use the portal's templates, session,
CSRF or language switch: French only, inline CSS, and a security policy of their own
(the portal's would forbid the inline styles, and its ``form-action 'self'`` the
redirect to the application after consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Response

# Scopes the sandbox knows, in the words a person reads on the consent page.
SCOPE_WORDS: dict[str, tuple[str, str]] = {
    "exports:fec": ("Export du FEC", "vos écritures comptables"),
    "fiscal_years:readonly": ("Lecture des exercices", "les périodes fiscales disponibles"),
}
PAGE_SECURITY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def format_siren(siren: str) -> str:
    return f"{siren[:3]} {siren[3:6]} {siren[6:]}"


@dataclass(frozen=True)
class Pages:
    directory: Path

    def environment(self) -> Environment:
        return _environment(self.directory)

    def render(self, name: str, *, status_code: int = 200, **context: Any) -> Response[str]:
        html = (
            self.environment().get_template(name).render(scope_words=SCOPE_WORDS, format_siren=format_siren, **context)
        )
        headers = {"Content-Security-Policy": PAGE_SECURITY, "Cache-Control": "no-store"}
        return Response(html, status_code=status_code, media_type=MediaType.HTML, headers=headers)


@cache
def _environment(directory: Path) -> Environment:
    # The vendor's own folder first (its _layout.html), then what every sandbox shares (_base.html, error.html).
    return Environment(
        loader=FileSystemLoader([directory, directory.parent]),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
