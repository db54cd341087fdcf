"""The domains of the portal, in one list: the application, the workers, the scheduler, the
commands, the test suite and Alembic all load this one.

Adding a domain is one package with a ``plugin.py`` and its line here. The order is the
order listeners run in and restrictions apply: the audit log sees a flush before the
domains that add rows to it.
"""

from __future__ import annotations

from portal.accounts.plugin import plugin as accounts
from portal.audit.plugin import plugin as audit
from portal.billing.plugin import plugin as billing
from portal.clients.plugin import plugin as clients
from portal.dashboard.plugin import plugin as dashboard
from portal.db.base import metadata
from portal.domain import Domain
from portal.expenses.plugin import plugin as expenses
from portal.firm.plugin import plugin as firm
from portal.home.plugin import plugin as home
from portal.integrations.plugin import plugin as integrations
from portal.jobs.plugin import plugin as jobs
from portal.ledger.plugin import plugin as ledger
from portal.notifications.plugin import plugin as notifications
from portal.sandbox.plugin import plugin as sandbox
from portal.sso.plugin import plugin as sso

DOMAINS: list[Domain] = [
    accounts,
    audit,  # the audit log, a layer under the domains, switched on the same way
    clients,
    billing,
    firm,
    notifications,  # below the domains whose events it tells of
    expenses,
    ledger,
    integrations,
    dashboard,
    sso,
    home,  # Accueil reads the domains above in this list
    jobs,  # background work, a layer under the domains, switched on the same way
    sandbox,  # the local stand-ins of outside services, mounted in development and tests only
]

# Every table of every domain: importing this module imported their model modules.
__all__ = ["DOMAINS", "install", "metadata"]


def install() -> None:
    """Switch every domain on in this process (listeners, restrictions, jobs, schedules). Idempotent.

    The application does it as it is built; a worker, the scheduler or a command calls this first.
    """
    for domain in DOMAINS:
        domain.install()
