"""audit events and job runs name the person they are about

Each row about a person (their account, firm roles, dossier roles, invitation; the email of
an invitation or a notice) names that person in ``person_id``, so the audit log and the
Travaux pages hide it from whoever may not see the person. Rows written before are filled
in from what they already hold: the object's id, the ``user_id`` in their values, the
invitation they name.

Revision ID: 31bc4994b486
Revises: 778cec9954ca
Create Date: 2026-12-07 09:27:58.229789
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types.guid import GUID
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = '31bc4994b486'
down_revision = '778cec9954ca'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
BATCH = 1000


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _backfill() -> None:
    bind = op.get_bind()
    event = sa.table(
        "audit_event", sa.column("id", GUID(length=16)), sa.column("object_type", sa.String),
        sa.column("object_id", sa.String), sa.column("before", JSON), sa.column("after", JSON),
        sa.column("person_id", GUID(length=16)),
    )  # fmt: skip
    run = sa.table(
        "job_run", sa.column("id", GUID(length=16)), sa.column("actor_name", sa.String),
        sa.column("arguments", JSON), sa.column("person_id", GUID(length=16)),
    )  # fmt: skip
    # The rows still there name their person (a role added through ``user.roles`` was logged without it).
    holders: dict[str, dict[str, uuid.UUID]] = {}
    for name in ("invitation", "user_role", "dossier_membership", "dossier_access"):
        table = sa.table(name, sa.column("id", GUID(length=16)), sa.column("user_id", GUID(length=16)))
        holders[name] = {str(row.id): row.user_id for row in bind.execute(sa.select(table.c.id, table.c.user_id))}
    invited = holders["invitation"]

    updates: list[dict[str, Any]] = []
    rows = bind.execute(
        sa.select(event.c.id, event.c.object_type, event.c.object_id, event.c.before, event.c.after).where(
            event.c.object_type.in_(["user_account", "user_role", "dossier_membership", "dossier_access", "invitation"])
        )
    )
    for row in rows:
        values = row.after or row.before or {}
        if row.object_type == "user_account":
            person = _uuid(row.object_id)
        else:
            person = _uuid(values.get("user_id")) or holders[row.object_type].get(str(_uuid(row.object_id)))
        if person is not None:
            updates.append({"event_id": row.id, "person": person})
    for start in range(0, len(updates), BATCH):
        bind.execute(
            event.update().where(event.c.id == sa.bindparam("event_id")).values(person_id=sa.bindparam("person")),
            updates[start : start + BATCH],
        )

    updates = []
    rows = bind.execute(
        sa.select(run.c.id, run.c.actor_name, run.c.arguments).where(
            run.c.actor_name.in_(["firm.send_invitation", "firm.send_access_notice"])
        )
    )
    for row in rows:
        arguments = row.arguments or {}
        person = _uuid(arguments.get("user_id")) or invited.get(str(_uuid(arguments.get("invitation_id"))))
        if person is not None:
            updates.append({"run_id": row.id, "person": person})
    for start in range(0, len(updates), BATCH):
        bind.execute(
            run.update().where(run.c.id == sa.bindparam("run_id")).values(person_id=sa.bindparam("person")),
            updates[start : start + BATCH],
        )


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', GUID(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', GUID(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_job_run_person_id'), ['person_id'], unique=False)

    _backfill()


def downgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_run_person_id'))
        batch_op.drop_column('person_id')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_person_id'))
        batch_op.drop_column('person_id')
