"""What other domains add to the firm's pages."""

from __future__ import annotations

from portal.web.extensions import PageParts

GENERAL_SETTINGS = PageParts()
"""Sections of Paramètres › Informations générales filled in by another domain: ``(principal, session, firm)``."""
