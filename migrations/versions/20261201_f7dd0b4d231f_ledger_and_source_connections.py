"""ledger and source connections

A dossier's ledger as imported from FEC files (fiscal year versions, and per version its
journals, accounts, entries and lines), the imports with their reports, and the dossier's
connections to outside sources with their credentials encrypted at rest. One active
version per dossier and closing date, enforced by a unique partial index. Codes compare
byte by byte on PostgreSQL (collation "C") for fast indexes over millions of lines.

Revision ID: f7dd0b4d231f
Revises: 7286ef1c4764
Create Date: 2026-12-01 20:55:24.438673
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import advanced_alchemy.types
import advanced_alchemy.types.datetime
import advanced_alchemy.types.guid
from sqlalchemy.dialects import postgresql

revision = 'f7dd0b4d231f'
down_revision = '7286ef1c4764'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('integration_connection',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('provider', sa.Enum('pennylane', name='provider', native_enum=False, length=24), nullable=False),
    sa.Column('auth_method', sa.Enum('oauth', 'api_token', name='authmethod', native_enum=False, length=24), nullable=False),
    sa.Column('status', sa.Enum('connected', 'authorization_lost', 'disconnected', name='connectionstatus', native_enum=False, length=24), nullable=False),
    sa.Column('credentials', sa.Text(), nullable=True),
    sa.Column('token_hint', sa.String(length=16), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('fiscal_years', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('fiscal_years_checked_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('connected_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('connected_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('credentials_version', sa.Integer(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connected_by_id'], ['user_account.id'], name=op.f('fk_integration_connection_connected_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_integration_connection_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_connection')),
    sa.UniqueConstraint('dossier_id', 'provider', name=op.f('uq_integration_connection_dossier_id'))
    )
    op.create_table('ledger_import',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('source', sa.Enum('upload', 'pennylane', 'command', name='ledgersource', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'succeeded', 'refused', 'failed', name='importstatus', native_enum=False, length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('storage_name', sa.String(length=120), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('connection_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('created_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('job_run_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('report', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('replaced', sa.Boolean(), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=True),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=True),
    sa.Column('finished_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['integration_connection.id'], name=op.f('fk_ledger_import_connection_id_integration_connection'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_ledger_import_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_ledger_import_dossier_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_run.id'], name=op.f('fk_ledger_import_job_run_id_job_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_import'))
    )
    with op.batch_alter_table('ledger_import', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_import_dossier_created', ['dossier_id', 'created_at'], unique=False)

    op.create_table('ledger_fiscal_year',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('dossier_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('state', sa.Enum('staging', 'active', 'retired', name='versionstate', native_enum=False, length=16), nullable=False),
    sa.Column('source', sa.Enum('upload', 'pennylane', 'command', name='ledgersource', native_enum=False, length=16), nullable=False),
    sa.Column('import_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('journal_count', sa.Integer(), nullable=False),
    sa.Column('account_count', sa.Integer(), nullable=False),
    sa.Column('debit_total', sa.BigInteger(), nullable=False),
    sa.Column('credit_total', sa.BigInteger(), nullable=False),
    sa.Column('cash_basis', sa.String(length=8), nullable=True),
    sa.Column('activated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_ledger_fiscal_year_dossier_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['import_id'], ['ledger_import.id'], name=op.f('fk_ledger_fiscal_year_import_id_ledger_import'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_fiscal_year'))
    )
    with op.batch_alter_table('ledger_fiscal_year', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_fiscal_year_dossier_state', ['dossier_id', 'state', 'end_date'], unique=False)
        batch_op.create_index('uq_ledger_fiscal_year_active', ['dossier_id', 'end_date'], unique=True, sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))

    op.create_table('ledger_account',
    sa.Column('fiscal_year_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('number', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('debit_total', sa.BigInteger(), nullable=False),
    sa.Column('credit_total', sa.BigInteger(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fiscal_year_id'], ['ledger_fiscal_year.id'], name=op.f('fk_ledger_account_fiscal_year_id_ledger_fiscal_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fiscal_year_id', 'number', name=op.f('pk_ledger_account'))
    )
    op.create_table('ledger_entry',
    sa.Column('fiscal_year_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('journal_code', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('number', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('piece_ref', sa.String(), nullable=True),
    sa.Column('first_line_no', sa.Integer(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('debit_total', sa.BigInteger(), nullable=False),
    sa.Column('credit_total', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['fiscal_year_id'], ['ledger_fiscal_year.id'], name=op.f('fk_ledger_entry_fiscal_year_id_ledger_fiscal_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fiscal_year_id', 'journal_code', 'number', name=op.f('pk_ledger_entry'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_date', ['fiscal_year_id', 'entry_date', 'first_line_no'], unique=False)

    op.create_table('ledger_journal',
    sa.Column('fiscal_year_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('code', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fiscal_year_id'], ['ledger_fiscal_year.id'], name=op.f('fk_ledger_journal_fiscal_year_id_ledger_fiscal_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fiscal_year_id', 'code', name=op.f('pk_ledger_journal'))
    )
    op.create_table('ledger_line',
    sa.Column('fiscal_year_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('journal_code', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('journal_label', sa.String(), nullable=True),
    sa.Column('entry_number', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('account_number', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=False),
    sa.Column('account_label', sa.String(), nullable=True),
    sa.Column('aux_account_number', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=True),
    sa.Column('aux_account_label', sa.String(), nullable=True),
    sa.Column('piece_ref', sa.String(), nullable=True),
    sa.Column('piece_date', sa.Date(), nullable=True),
    sa.Column('label', sa.String(), nullable=True),
    sa.Column('debit', sa.BigInteger(), nullable=False),
    sa.Column('credit', sa.BigInteger(), nullable=False),
    sa.Column('lettering', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=True),
    sa.Column('lettering_date', sa.Date(), nullable=True),
    sa.Column('validation_date', sa.Date(), nullable=True),
    sa.Column('currency_amount', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('currency', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=True),
    sa.Column('settlement_date', sa.Date(), nullable=True),
    sa.Column('settlement_mode', sa.String().with_variant(sa.String(collation='C'), 'postgresql'), nullable=True),
    sa.Column('nature', sa.String(), nullable=True),
    sa.Column('client_id', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['fiscal_year_id'], ['ledger_fiscal_year.id'], name=op.f('fk_ledger_line_fiscal_year_id_ledger_fiscal_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fiscal_year_id', 'line_no', name=op.f('pk_ledger_line'))
    )
    with op.batch_alter_table('ledger_line', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_line_account', ['fiscal_year_id', 'account_number'], unique=False)
        batch_op.create_index('ix_ledger_line_entry', ['fiscal_year_id', 'journal_code', 'entry_number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ledger_line', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_line_entry')
        batch_op.drop_index('ix_ledger_line_account')

    op.drop_table('ledger_line')
    op.drop_table('ledger_journal')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_date')

    op.drop_table('ledger_entry')
    op.drop_table('ledger_account')
    with op.batch_alter_table('ledger_fiscal_year', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_fiscal_year_active', sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))
        batch_op.drop_index('ix_ledger_fiscal_year_dossier_state')

    op.drop_table('ledger_fiscal_year')
    with op.batch_alter_table('ledger_import', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_import_dossier_created')

    op.drop_table('ledger_import')
    op.drop_table('integration_connection')
