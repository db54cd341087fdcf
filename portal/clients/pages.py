"""What other domains add to the Entreprises pages."""

from __future__ import annotations

from portal.web.extensions import PageParts

PANEL_TABS = PageParts()
"""Tabs of a dossier's panel filled in by another domain: ``(principal, session, dossier) -> context``."""
