"""The menu's counts are read for full pages only: not for htmx fragments, static files, images or POSTs."""

from __future__ import annotations

from portal.web.navigation import wants_menu_counts


def test_counts_are_read_for_pages_and_nothing_else() -> None:
    assert wants_menu_counts("GET", "/notes-de-frais", {})
    assert wants_menu_counts("GET", "/", {"sec-fetch-dest": "document"})
    assert not wants_menu_counts("POST", "/notes-de-frais/", {})
    assert not wants_menu_counts("GET", "/entreprises", {"hx-request": "true"})
    assert not wants_menu_counts("GET", "/static/css/portal.css", {})
    assert not wants_menu_counts("GET", "/notes-de-frais/justificatifs/x/miniature", {"sec-fetch-dest": "image"})
