"""Import every model module so that ``metadata`` knows every table, and switch the audit log on.

Alembic's env.py, the application, the workers and the test suite import this module;
add new domains here.
"""

from __future__ import annotations

from portal.audit import models as audit_models
from portal.audit import recorder
from portal.auth import models as auth_models
from portal.clients import models as clients_models
from portal.db.base import metadata
from portal.firm import models as firm_models
from portal.jobs import models as jobs_models

# Every session of every process that knows the models records audited changes.
recorder.install()

__all__ = ["audit_models", "auth_models", "clients_models", "firm_models", "jobs_models", "metadata"]
