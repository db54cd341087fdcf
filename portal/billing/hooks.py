"""Every dossier added gets its client in the billing entity, in the background, through the outbox.

A flush hook rather than a call in one service: whatever creates a dossier through the
ORM (the Nouveau form, the demo, an import, an integration) requests the job in the same
transaction, so the dossier and the request for its client commit or roll back together.
Dossiers written in bulk outside the ORM are caught by the hourly "Créer mes clients".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from uuid_utils.compat import uuid7

from portal.audit.context import current_actor
from portal.billing.tasks import create_dossier_clients
from portal.clients.models import Dossier
from portal.firm.services import billing_entity_id


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    new_dossiers = [obj for obj in session.new if isinstance(obj, Dossier)]
    if not new_dossiers:
        return
    with session.no_autoflush:
        entity = session.execute(billing_entity_id()).scalar()
    if entity is None:
        return  # no billing entity yet: "Créer mes clients" will do it once one is linked
    for dossier in new_dossiers:
        # The key is otherwise set at insert; the job needs it now. (Typed non-optional, None until then.)
        if getattr(dossier, "id", None) is None:
            dossier.id = uuid7()
    create_dossier_clients.options(
        created_by_id=current_actor().user_id, dossier_id=new_dossiers[0].id if len(new_dossiers) == 1 else None
    ).request(session, dossier_ids=[str(dossier.id) for dossier in new_dossiers])


def install() -> None:
    """Idempotent."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
