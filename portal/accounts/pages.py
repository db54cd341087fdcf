"""What other domains add to the sign-in page."""

from __future__ import annotations

from portal.web.extensions import PageParts

SIGN_IN = PageParts()
"""Parts of the sign-in page filled in by another domain (single sign-on's buttons): ``(settings, next_path)``."""

ACCOUNT = PageParts()
"""Sections of Mon compte filled in by another domain (the notification preferences): ``(principal, session)``."""
