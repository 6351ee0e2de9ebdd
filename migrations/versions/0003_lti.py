"""LTI 1.3: platform registrations, Stride's keys, LMS identities, resource links, score outbox

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column('created_at', sa.DateTime(), nullable=False)


def upgrade() -> None:
    op.create_table(
        'lti_key',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kid', sa.String(length=100), nullable=False, unique=True),
        sa.Column('private_pem', sa.Text(), nullable=False),
        sa.Column('public_pem', sa.Text(), nullable=False),
        _created_at(),
        sa.Column('retired_at', sa.DateTime(), nullable=True),
    )
    op.create_table(
        'lti_platform',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('course_id', sa.Integer(), sa.ForeignKey('course.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('issuer', sa.String(length=255), nullable=False),
        sa.Column('client_id', sa.String(length=255), nullable=False),
        sa.Column('auth_login_url', sa.String(length=1000), nullable=False),
        sa.Column('auth_token_url', sa.String(length=1000), nullable=False),
        sa.Column('key_set_url', sa.String(length=1000), nullable=False),
        sa.Column('auth_audience', sa.String(length=1000), nullable=True),
        sa.Column('frame_origins', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(),
                  sa.ForeignKey('user_account.id', ondelete='SET NULL'), nullable=True),
        _created_at(),
        sa.UniqueConstraint('issuer', 'client_id'),
    )
    op.create_table(
        'lti_deployment',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('platform_id', sa.Integer(),
                  sa.ForeignKey('lti_platform.id', ondelete='CASCADE'), nullable=False),
        sa.Column('deployment_id', sa.String(length=255), nullable=False),
        sa.UniqueConstraint('platform_id', 'deployment_id'),
    )
    op.create_table(
        'lti_identity',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('issuer', sa.String(length=255), nullable=False),
        sa.Column('sub', sa.String(length=255), nullable=False),
        sa.Column('platform_id', sa.Integer(),
                  sa.ForeignKey('lti_platform.id', ondelete='CASCADE'), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        _created_at(),
        sa.UniqueConstraint('issuer', 'sub'),
    )
    op.create_table(
        'lti_nonce',
        sa.Column('nonce', sa.String(length=255), primary_key=True),
        sa.Column('expires_at', sa.DateTime(), nullable=False, index=True),
    )
    op.create_table(
        'lti_launch_value',
        sa.Column('key', sa.String(length=255), primary_key=True),
        sa.Column('value_json', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False, index=True),
    )
    op.create_table(
        'lti_resource_link',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('platform_id', sa.Integer(),
                  sa.ForeignKey('lti_platform.id', ondelete='CASCADE'), nullable=False),
        sa.Column('deployment_id', sa.String(length=255), nullable=False),
        sa.Column('resource_link_id', sa.String(length=255), nullable=False),
        sa.Column('context_id', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('target', sa.String(length=120), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('score_policy', sa.String(length=10), nullable=False, server_default='best'),
        sa.Column('lineitems_url', sa.String(length=1000), nullable=True),
        sa.Column('lineitem_url', sa.String(length=1000), nullable=True),
        sa.Column('ags_scopes', sa.Text(), nullable=False),
        sa.Column('memberships_url', sa.String(length=1000), nullable=True),
        _created_at(),
        sa.UniqueConstraint('platform_id', 'resource_link_id'),
    )
    op.create_table(
        'lti_link_user',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('link_id', sa.Integer(),
                  sa.ForeignKey('lti_resource_link.id', ondelete='CASCADE'), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        sa.Column('sub', sa.String(length=255), nullable=False),
        sa.UniqueConstraint('link_id', 'user_id'),
    )
    op.create_table(
        'lti_score_outbox',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('link_id', sa.Integer(),
                  sa.ForeignKey('lti_resource_link.id', ondelete='CASCADE'), nullable=False,
                  index=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('tries', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('next_try_at', sa.DateTime(), nullable=False, index=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('score_given', sa.Float(), nullable=True),
        sa.Column('score_maximum', sa.Float(), nullable=True),
        _created_at(),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    for table in ('lti_score_outbox', 'lti_link_user', 'lti_resource_link', 'lti_launch_value',
                  'lti_nonce', 'lti_identity', 'lti_deployment', 'lti_platform', 'lti_key'):
        op.drop_table(table)
