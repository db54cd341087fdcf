"""Who sees which job runs: the person who started it, and those allowed to see them all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.jobs.models import JobRun


def visible_runs(statement: Select[Any], principal: Principal, _permission: Permission) -> Select[Any]:
    if principal.can(Permission.JOBS_READ_ALL):
        return statement
    return statement.where(JobRun.created_by_id == principal.user_id)


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = ((JobRun, visible_runs),)
