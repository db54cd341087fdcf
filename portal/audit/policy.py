"""Who reads the audit log: holders of the permission (other domains narrow it further)."""

from __future__ import annotations

from portal.audit.models import AuditEvent
from portal.auth.policy import firm_wide, restriction_for

restriction_for(AuditEvent)(firm_wide)
