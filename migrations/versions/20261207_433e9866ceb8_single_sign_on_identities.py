"""single sign-on identities

The identities at OpenID providers (issuer, subject) linked to the people who sign in with
them: one person per identity, one identity per person and provider.

Revision ID: 433e9866ceb8
Revises: ae4ab7967dbc
Create Date: 2026-12-07 09:23:45.866162
"""

from __future__ import annotations

import advanced_alchemy.types.datetime
import advanced_alchemy.types.guid
import sqlalchemy as sa
from alembic import op

revision = '433e9866ceb8'
down_revision = 'ae4ab7967dbc'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sso_identity',
        sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column('user_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sso_identity_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_identity')),
        sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_sso_identity_issuer')),
        sa.UniqueConstraint('user_id', 'issuer', name=op.f('uq_sso_identity_user_id')),
    )


def downgrade() -> None:
    op.drop_table('sso_identity')
