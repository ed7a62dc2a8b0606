"""mail settings: the agency's own connection cap and sending rates (NULL: the provider's)

Revision ID: 3e8a5f1c7d24
Revises: 7c41e2d9a0b5
Create Date: 2026-12-05 13:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e8a5f1c7d24'
down_revision = '7c41e2d9a0b5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_per_minute', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_per_day', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        batch_op.drop_column('rate_per_day')
        batch_op.drop_column('rate_per_minute')
        batch_op.drop_column('connection_cap')
