"""sending pause: a "failing" state before a pause, the probe's backoff, the operator notice

Revision ID: 7c41e2d9a0b5
Revises: 7b4e1c9d2f60
Create Date: 2026-12-05 12:15:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = '7c41e2d9a0b5'
down_revision = '7b4e1c9d2f60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sending_pause', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), server_default='paused',
                                      nullable=False))
        batch_op.add_column(sa.Column('retry_at', webapp.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('probes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('admins_told_at', webapp.models.types.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('sending_pause', schema=None) as batch_op:
        batch_op.drop_column('admins_told_at')
        batch_op.drop_column('probes')
        batch_op.drop_column('retry_at')
        batch_op.drop_column('state')
