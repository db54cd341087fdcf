"""Turns every flushed change of an ``Audited`` model into an ``AuditEvent`` in the same transaction.

Listening on ``before_flush`` of every ``Session`` means no service can forget to
audit, and the event commits or rolls back together with the change it describes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from uuid_utils.compat import uuid7

from portal.audit.context import current_actor
from portal.audit.mixins import Audited
from portal.audit.models import AuditEvent

_ALWAYS_EXCLUDED = frozenset({"created_at", "updated_at", "sa_orm_sentinel"})


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _columns(obj: Audited) -> list[str]:
    excluded = _ALWAYS_EXCLUDED | type(obj).__audit_exclude__
    return [attr.key for attr in inspect(type(obj)).column_attrs if attr.key not in excluded]


def _snapshot_new(obj: Audited) -> dict[str, Any]:
    state = inspect(obj)
    mapper = state.mapper
    values: dict[str, Any] = {}
    for key in _columns(obj):
        value = state.dict.get(key)
        if value is None:
            column = mapper.columns[key]
            default = column.default
            if default is not None and default.is_scalar:
                value = default.arg
        values[key] = _plain(value)
    return values


def _snapshot_current(obj: Audited) -> dict[str, Any]:
    state = inspect(obj)
    return {key: _plain(state.attrs[key].loaded_value) for key in _columns(obj)}


def _changes(obj: Audited) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _columns(obj):
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[key] = _plain(old)
        after[key] = _plain(new)
    return before, after


def _event(obj: Audited, verb: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> AuditEvent:
    actor = current_actor()
    table = type(obj).__tablename__  # type: ignore[attr-defined]
    return AuditEvent(
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=f"{table}.{verb}",
        object_type=table,
        object_id=str(obj.id),  # type: ignore[attr-defined]
        dossier_id=obj.audit_dossier_id,
        person_id=obj.audit_person_id,
        before=before,
        after=after,
        request_id=actor.request_id,
        ip_address=actor.ip_address,
    )


def _before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    events: list[AuditEvent] = []
    new = [obj for obj in session.new if isinstance(obj, Audited)]
    for obj in new:  # every id first: a role added through ``user.roles`` names its person by the person's
        if getattr(obj, "id", None) is None:
            obj.id = uuid7()  # type: ignore[attr-defined]
    events.extend(_event(obj, "create", None, _snapshot_new(obj)) for obj in new)
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                events.append(_event(obj, "update", before, after))
    events.extend(
        _event(obj, "delete", _snapshot_current(obj), None) for obj in session.deleted if isinstance(obj, Audited)
    )
    session.add_all(events)


def record(
    session: Session | Any,
    action: str,
    *,
    object_type: str,
    object_id: str | None,
    dossier_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Record a domain action that is not a row change (sign-in, sign-out, a merge, a bulk creation).

    ``person_id``: the person it is about (an action on a ``user_account`` is about that account).
    """
    actor = current_actor()
    if person_id is None and object_type == "user_account" and object_id:
        person_id = uuid.UUID(object_id)
    target = session.sync_session if hasattr(session, "sync_session") else session
    target.add(
        AuditEvent(
            actor_id=actor.user_id,
            actor_label=actor.label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            dossier_id=dossier_id,
            person_id=person_id,
            after={key: _plain(value) for key, value in details.items()} or None,
            request_id=actor.request_id,
            ip_address=actor.ip_address,
        )
    )


def install() -> None:
    """Listen on every session. Idempotent."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
