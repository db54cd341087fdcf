"""Import every model module so that ``metadata`` knows every table; switch on the flush hooks
(audit log, dossier word index, client of every new dossier) and register every row restriction.

Alembic's env.py, the application, the workers and the test suite import this module;
add new domains here. Restrictions are registered here, in every process, so that no
query can run before the rule that narrows it is known.
"""

from __future__ import annotations

from portal.accounts import models as accounts_models
from portal.audit import models as audit_models
from portal.audit import policy as audit_policy
from portal.audit import recorder
from portal.billing import hooks as billing_hooks
from portal.billing import models as billing_models
from portal.billing import policy as billing_policy
from portal.clients import models as clients_models
from portal.clients import policy as clients_policy
from portal.clients import search as clients_search
from portal.db.base import metadata
from portal.expenses import models as expenses_models
from portal.expenses import policy as expenses_policy
from portal.expenses import receipts as expenses_receipts
from portal.firm import models as firm_models
from portal.firm import policy as firm_policy
from portal.integrations import models as integrations_models
from portal.integrations import policy as integrations_policy
from portal.integrations.commerce import models as commerce_models
from portal.integrations.commerce import policy as commerce_policy
from portal.jobs import models as jobs_models
from portal.jobs import policy as jobs_policy
from portal.ledger import models as ledger_models
from portal.ledger import policy as ledger_policy

# Every session of every process that knows the models records audited changes, keeps
# the dossier word index current and requests the client of every new dossier.
recorder.install()
clients_search.install()
billing_hooks.install()
expenses_receipts.install()

__all__ = [
    "accounts_models",
    "audit_models",
    "audit_policy",
    "billing_models",
    "billing_policy",
    "clients_models",
    "clients_policy",
    "commerce_models",
    "commerce_policy",
    "expenses_models",
    "expenses_policy",
    "firm_models",
    "firm_policy",
    "integrations_models",
    "integrations_policy",
    "jobs_models",
    "jobs_policy",
    "ledger_models",
    "ledger_policy",
    "metadata",
]
