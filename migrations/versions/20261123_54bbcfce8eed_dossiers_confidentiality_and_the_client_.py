"""dossiers, confidentiality and the client base

Dossiers gain their details (address, closing date, status), a confidentiality flag with
an access list, sort and match keys and a word index for search; the billing entity's
client base (clients, dossier links, possible duplicates); the dossier an audit event or
a job run belongs to; and ``portal_uuid7()`` on PostgreSQL for set-based inserts
(SQLite gets a Python function on every connection). Existing dossiers are backfilled.

Revision ID: 54bbcfce8eed
Revises: 23ce4a578b64
Create Date: 2026-11-23 12:15:36.949029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import advanced_alchemy.types
import advanced_alchemy.types.datetime
import advanced_alchemy.types.guid

from portal.clients import names

UUID7_FUNCTION = """
CREATE OR REPLACE FUNCTION portal_uuid7() RETURNS uuid AS $$
  -- RFC 9562 version 7: 48-bit Unix time in milliseconds, then random bits.
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$ LANGUAGE sql VOLATILE
"""

revision = '54bbcfce8eed'
down_revision = '23ce4a578b64'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(UUID7_FUNCTION)
    op.create_table('billing_client',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('billing_entity_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sort_name', sa.String(length=200), nullable=False),
    sa.Column('match_name', sa.String(length=200), nullable=False),
    sa.Column('siren', sa.String(length=9), nullable=True),
    sa.Column('origin_dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['billing_entity_id'], ['dossier.id'], name=op.f('fk_billing_client_billing_entity_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['origin_dossier_id'], ['dossier.id'], name=op.f('fk_billing_client_origin_dossier_id_dossier'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_client')),
    sa.UniqueConstraint('billing_entity_id', 'origin_dossier_id', name='uq_billing_client_entity_origin'),
    sa.UniqueConstraint('billing_entity_id', 'siren', name='uq_billing_client_entity_siren')
    )
    with op.batch_alter_table('billing_client', schema=None) as batch_op:
        batch_op.create_index('ix_billing_client_entity_match', ['billing_entity_id', 'match_name'], unique=False)
        batch_op.create_index('ix_billing_client_entity_sort', ['billing_entity_id', 'sort_name', 'id'], unique=False)

    op.create_table('dossier_access',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('granted_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_access_dossier_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['granted_by_id'], ['user_account.id'], name=op.f('fk_dossier_access_granted_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_dossier_access_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_access')),
    sa.UniqueConstraint('dossier_id', 'user_id', name=op.f('uq_dossier_access_dossier_id'))
    )
    with op.batch_alter_table('dossier_access', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_access_user', ['user_id'], unique=False)

    op.create_table('dossier_name_term',
    sa.Column('term', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_name_term_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('term', 'dossier_id', name=op.f('pk_dossier_name_term'))
    )
    with op.batch_alter_table('dossier_name_term', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_name_term_dossier', ['dossier_id'], unique=False)

    op.create_table('billing_client_dossier',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('billing_entity_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('client_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['billing_entity_id'], ['dossier.id'], name=op.f('fk_billing_client_dossier_billing_entity_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['billing_client.id'], name=op.f('fk_billing_client_dossier_client_id_billing_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_billing_client_dossier_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_client_dossier')),
    sa.UniqueConstraint('billing_entity_id', 'dossier_id', name='uq_billing_client_dossier_entity_dossier')
    )
    with op.batch_alter_table('billing_client_dossier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_client_dossier_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_client_dossier_dossier_id'), ['dossier_id'], unique=False)

    op.create_table('billing_duplicate',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('billing_entity_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('client_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('candidate_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('status', sa.Enum('open', 'dismissed', name='duplicatestatus', native_enum=False, length=16), nullable=False),
    sa.Column('resolved_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('resolved_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['billing_entity_id'], ['dossier.id'], name=op.f('fk_billing_duplicate_billing_entity_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['billing_client.id'], name=op.f('fk_billing_duplicate_candidate_id_billing_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['billing_client.id'], name=op.f('fk_billing_duplicate_client_id_billing_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'], name=op.f('fk_billing_duplicate_resolved_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_duplicate')),
    sa.UniqueConstraint('client_id', 'candidate_id', name='uq_billing_duplicate_pair')
    )
    with op.batch_alter_table('billing_duplicate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_duplicate_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index('ix_billing_duplicate_entity_status', ['billing_entity_id', 'status'], unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_dossier_id'), ['dossier_id'], unique=False)

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sort_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('match_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('postal_code', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('city', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('closing_day', sa.SmallInteger(), nullable=False, server_default='31'))
        batch_op.add_column(sa.Column('closing_month', sa.SmallInteger(), nullable=False, server_default='12'))
        batch_op.add_column(sa.Column('status', sa.Enum('onboarding', 'active', 'archived', name='dossierstatus', native_enum=False, length=16), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('is_confidential', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_index(batch_op.f('ix_dossier_name'))
        batch_op.create_index('ix_dossier_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_dossier_confidential_id', ['is_confidential', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dossier_match_name'), ['match_name'], unique=False)
        batch_op.create_index('ix_dossier_sort_name', ['sort_name', 'id'], unique=False)

    _backfill_dossiers()
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        for column in ('sort_name', 'match_name', 'closing_day', 'closing_month', 'status', 'is_confidential'):
            batch_op.alter_column(column, server_default=None)
        batch_op.create_check_constraint(op.f('ck_dossier_closing_month'), 'closing_month BETWEEN 1 AND 12')
        batch_op.create_check_constraint(op.f('ck_dossier_closing_day'), 'closing_day BETWEEN 1 AND 31')

    with op.batch_alter_table('firm', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_entity_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_firm_billing_entity_id_dossier'), 'dossier', ['billing_entity_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_job_run_dossier_id_dossier'), 'dossier', ['dossier_id'], ['id'], ondelete='SET NULL')



def _backfill_dossiers() -> None:
    """Sort and match keys, and the word index, for the dossiers that exist already."""
    bind = op.get_bind()
    dossier = sa.table('dossier', sa.column('id', advanced_alchemy.types.guid.GUID(length=16)), sa.column('name', sa.String),
                       sa.column('sort_name', sa.String), sa.column('match_name', sa.String))
    term = sa.table('dossier_name_term', sa.column('term', sa.String), sa.column('dossier_id', advanced_alchemy.types.guid.GUID(length=16)))
    rows = bind.execute(sa.select(dossier.c.id, dossier.c.name)).all()
    for dossier_id, name in rows:
        bind.execute(dossier.update().where(dossier.c.id == dossier_id).values(
            sort_name=names.sort_key(name), match_name=names.match_key(name)))
        terms = [{'term': word, 'dossier_id': dossier_id} for word in names.search_terms(name)]
        if terms:
            bind.execute(term.insert(), terms)


def downgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_job_run_dossier_id_dossier'), type_='foreignkey')
        batch_op.drop_column('dossier_id')

    with op.batch_alter_table('firm', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_firm_billing_entity_id_dossier'), type_='foreignkey')
        batch_op.drop_column('billing_entity_id')

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_dossier_closing_day'), type_='check')
        batch_op.drop_constraint(op.f('ck_dossier_closing_month'), type_='check')
        batch_op.drop_index('ix_dossier_sort_name')
        batch_op.drop_index(batch_op.f('ix_dossier_match_name'))
        batch_op.drop_index('ix_dossier_confidential_id')
        batch_op.drop_index('ix_dossier_created_at')
        batch_op.create_index(batch_op.f('ix_dossier_name'), ['name'], unique=False)
        batch_op.drop_column('is_confidential')
        batch_op.drop_column('status')
        batch_op.drop_column('closing_month')
        batch_op.drop_column('closing_day')
        batch_op.drop_column('city')
        batch_op.drop_column('postal_code')
        batch_op.drop_column('address')
        batch_op.drop_column('match_name')
        batch_op.drop_column('sort_name')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_dossier_id'))
        batch_op.drop_column('dossier_id')

    with op.batch_alter_table('billing_duplicate', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_duplicate_entity_status')
        batch_op.drop_index(batch_op.f('ix_billing_duplicate_candidate_id'))

    op.drop_table('billing_duplicate')
    with op.batch_alter_table('billing_client_dossier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_client_dossier_dossier_id'))
        batch_op.drop_index(batch_op.f('ix_billing_client_dossier_client_id'))

    op.drop_table('billing_client_dossier')
    with op.batch_alter_table('dossier_name_term', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_name_term_dossier')

    op.drop_table('dossier_name_term')
    with op.batch_alter_table('dossier_access', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_access_user')

    op.drop_table('dossier_access')
    with op.batch_alter_table('billing_client', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_client_entity_sort')
        batch_op.drop_index('ix_billing_client_entity_match')

    op.drop_table('billing_client')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS portal_uuid7()")
