"""course roles, session versions, idempotency tokens, grading heartbeats

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=20), nullable=False,
                                      server_default='student'))
    # Instructors were staff of every course they were enrolled in: keep that as their role.
    op.execute("UPDATE enrollment SET role = 'instructor' WHERE user_id IN "
               "(SELECT id FROM user_account WHERE role = 'instructor')")
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False,
                                      server_default='1'))
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_submission_request_token',
                                          ['user_id', 'request_token'])
    with op.batch_alter_table('code_submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tries', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_code_submission_request_token',
                                          ['user_id', 'request_token'])


def downgrade() -> None:
    with op.batch_alter_table('code_submission', schema=None) as batch_op:
        batch_op.drop_constraint('uq_code_submission_request_token', type_='unique')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('tries')
        batch_op.drop_column('request_token')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_constraint('uq_submission_request_token', type_='unique')
        batch_op.drop_column('request_token')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.drop_column('role')
