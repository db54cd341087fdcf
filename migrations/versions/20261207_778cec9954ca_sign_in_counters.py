"""sign-in counters

The sign-in throttle's counters (sign_in_counter): attempts per (account, address) pair and
per address, each counted by one upsert that stops at its limit.

Revision ID: 778cec9954ca
Revises: 007184936cad
Create Date: 2026-12-07 09:29:29.782425
"""

from __future__ import annotations

import advanced_alchemy.types.datetime
import advanced_alchemy.types.guid
import sqlalchemy as sa
from alembic import op

revision = '778cec9954ca'
down_revision = '007184936cad'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sign_in_counter',
        sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=400), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('reset_at', sa.BigInteger(), nullable=False),
        sa.Column('penalty_seconds', sa.Integer(), nullable=False),
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_counter')),
        sa.UniqueConstraint('scope', 'key', name=op.f('uq_sign_in_counter_scope')),
    )


def downgrade() -> None:
    op.drop_table('sign_in_counter')
