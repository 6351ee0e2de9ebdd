"""a generation on each LMS score outbox row: a score that changes while it is being sent is
sent again

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lti_score_outbox') as batch:
        batch.add_column(sa.Column('generation', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('lti_score_outbox') as batch:
        batch.drop_column('generation')
