"""Who reads the audit log: holders of the permission (other domains narrow it further)."""

from __future__ import annotations

from portal.audit.models import AuditEvent
from portal.auth.policy import Restriction, firm_wide

# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = ((AuditEvent, firm_wide),)
