"""Import every module that registers jobs or schedules.

Every worker and scheduler imports this, so a message is never consumed by a process
that does not know its actor. Add new domains' task modules here.
"""

from __future__ import annotations

from portal.accounts import tasks as accounts_tasks
from portal.billing import tasks as billing_tasks
from portal.firm import tasks as firm_tasks
from portal.integrations import tasks as integrations_tasks
from portal.integrations.commerce import tasks as commerce_tasks
from portal.jobs import diagnostic, maintenance
from portal.ledger import cleanup as ledger_cleanup
from portal.ledger import tasks as ledger_tasks

__all__ = [
    "accounts_tasks",
    "billing_tasks",
    "commerce_tasks",
    "diagnostic",
    "firm_tasks",
    "integrations_tasks",
    "ledger_cleanup",
    "ledger_tasks",
    "maintenance",
]
