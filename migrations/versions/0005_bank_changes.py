"""recorded regrades, re-issued variants, the published bank version and bank incidents

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'regrade_run',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('problem_id', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('course_ids_json', sa.Text(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('undo_json', sa.Text(), nullable=False),
        sa.Column('changed_by_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('undone_at', sa.DateTime(), nullable=True),
        sa.Column('undone_by_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='SET NULL'), nullable=True),
    )
    op.create_index('ix_regrade_run_problem_id', 'regrade_run', ['problem_id'])
    op.create_table(
        'retired_variant',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('run_id', sa.Integer(), sa.ForeignKey('regrade_run.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('set_id', sa.String(length=120), nullable=False),
        sa.Column('problem_id', sa.String(length=120), nullable=False),
        sa.Column('seed', sa.BigInteger(), nullable=False),
        sa.Column('variant_json', sa.Text(), nullable=False),
        sa.Column('submissions_json', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_retired_variant_run_id', 'retired_variant', ['run_id'])
    op.create_index('ix_retired_variant_user_id', 'retired_variant', ['user_id'])
    op.create_table(
        'bank_version',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('files_json', sa.Text(), nullable=False),
        sa.Column('published_by_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_bank_version_digest', 'bank_version', ['digest'])
    op.create_table(
        'bank_incident',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('problem_id', sa.String(length=120), nullable=False),
        sa.Column('set_id', sa.String(length=120), nullable=False),
        sa.Column('seed', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_bank_incident_problem_id', 'bank_incident', ['problem_id'])


def downgrade() -> None:
    op.drop_table('bank_incident')
    op.drop_table('bank_version')
    op.drop_table('retired_variant')
    op.drop_table('regrade_run')
