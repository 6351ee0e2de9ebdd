"""per-student allowances (extensions, extra attempts), password reset links, Canvas assignments

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'allowance',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('set_id', sa.String(length=120), nullable=False),
        sa.Column('due', sa.DateTime(), nullable=True),
        sa.Column('extra_attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('granted_by_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='SET NULL'), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('user_id', 'set_id', name='uq_allowance_user_set'),
    )
    op.create_index('ix_allowance_user_id', 'allowance', ['user_id'])
    op.create_table(
        'password_reset',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False, unique=True),
        sa.Column('created_by_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_password_reset_user_id', 'password_reset', ['user_id'])
    op.create_table(
        'canvas_assignment',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('course_id', sa.Integer(), sa.ForeignKey('course.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('item', sa.String(length=200), nullable=False),
        sa.Column('assignment_id', sa.String(length=20), nullable=False),
        sa.UniqueConstraint('course_id', 'item', name='uq_canvas_assignment_item'),
    )
    op.create_index('ix_canvas_assignment_course_id', 'canvas_assignment', ['course_id'])


def downgrade() -> None:
    op.drop_index('ix_canvas_assignment_course_id', table_name='canvas_assignment')
    op.drop_table('canvas_assignment')
    op.drop_index('ix_password_reset_user_id', table_name='password_reset')
    op.drop_table('password_reset')
    op.drop_index('ix_allowance_user_id', table_name='allowance')
    op.drop_table('allowance')
