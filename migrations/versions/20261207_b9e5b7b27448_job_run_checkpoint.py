"""job run checkpoint

Where a resumable job stands (job_run.checkpoint), written in the transactions of its work,
so that an attempt resuming after a killed worker counts what earlier attempts did.

Revision ID: b9e5b7b27448
Revises: e19d852d55ae
Create Date: 2026-12-07 03:47:36.586628
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'b9e5b7b27448'
down_revision = 'e19d852d55ae'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkpoint', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_column('checkpoint')
