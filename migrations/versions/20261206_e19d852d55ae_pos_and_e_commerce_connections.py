"""pos and e-commerce connections

POS and e-commerce sources of a dossier: per connection its account at the source, its
reference data, accounting mapping and schedule (commerce_setup); the entries posted from
the source's records, unique per (dossier, source account, kind, record id) so that no
record is ever posted twice (commerce_entry, commerce_entry_line); how far each day went
(commerce_day: open, closed or blocked by the mapping); the customers' auxiliary accounts.

Revision ID: e19d852d55ae
Revises: f7dd0b4d231f
Create Date: 2026-12-06 04:03:11.125996
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import advanced_alchemy.types
import advanced_alchemy.types.datetime
import advanced_alchemy.types.guid
from sqlalchemy.dialects import postgresql

revision = 'e19d852d55ae'
down_revision = 'f7dd0b4d231f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('commerce_customer',
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=160), nullable=False),
    sa.Column('aux_account', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_commerce_customer_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dossier_id', 'source_key', 'aux_account', name=op.f('pk_commerce_customer'))
    )
    op.create_table('commerce_day',
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=160), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', 'blocked', name='daystate', native_enum=False, length=16), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=True),
    sa.Column('synced_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_commerce_day_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dossier_id', 'source_key', 'business_date', name=op.f('pk_commerce_day'))
    )
    op.create_table('commerce_entry',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.String(length=120), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('journal_code', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('piece_ref', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('run_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_commerce_entry_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commerce_entry')),
    sa.UniqueConstraint('dossier_id', 'source_key', 'kind', 'record_id', name='uq_commerce_entry_record')
    )
    with op.batch_alter_table('commerce_entry', schema=None) as batch_op:
        batch_op.create_index('ix_commerce_entry_date', ['dossier_id', 'entry_date'], unique=False)
        batch_op.create_index('ix_commerce_entry_day', ['dossier_id', 'source_key', 'business_date'], unique=False)

    op.create_table('commerce_entry_line',
    sa.Column('entry_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=20), nullable=False),
    sa.Column('aux_account', sa.String(length=20), nullable=True),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('debit', sa.BigInteger(), nullable=False),
    sa.Column('credit', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['commerce_entry.id'], name=op.f('fk_commerce_entry_line_entry_id_commerce_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'line_no', name=op.f('pk_commerce_entry_line'))
    )
    op.create_table('commerce_setup',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('connection_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('consumer_id', sa.String(length=120), nullable=True),
    sa.Column('consumer_name', sa.String(length=200), nullable=True),
    sa.Column('mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reference', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reference_checked_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sync_start', sa.Date(), nullable=False),
    sa.Column('sync_frequency', sa.Enum('daily', 'monthly', name='syncfrequency', native_enum=False, length=16), nullable=False),
    sa.Column('last_synced_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['integration_connection.id'], name=op.f('fk_commerce_setup_connection_id_integration_connection'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_commerce_setup_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commerce_setup')),
    sa.UniqueConstraint('connection_id', name=op.f('uq_commerce_setup_connection_id'))
    )
    with op.batch_alter_table('commerce_setup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commerce_setup_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index('ix_commerce_setup_frequency', ['sync_frequency'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('commerce_setup', schema=None) as batch_op:
        batch_op.drop_index('ix_commerce_setup_frequency')
        batch_op.drop_index(batch_op.f('ix_commerce_setup_dossier_id'))

    op.drop_table('commerce_setup')
    op.drop_table('commerce_entry_line')
    with op.batch_alter_table('commerce_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_commerce_entry_day')
        batch_op.drop_index('ix_commerce_entry_date')

    op.drop_table('commerce_entry')
    op.drop_table('commerce_day')
    op.drop_table('commerce_customer')
