"""mail settings: the agency's own connection cap and sending rates (NULL: the provider's);
the index of deadline-critical emails due, which the claim takes first

Revision ID: 3e8a5f1c7d24
Revises: 3f9a6c1e7d24
Create Date: 2026-12-05 13:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

# models/outbox.py DEADLINE_INDEXED, as it stood when this index was made.
_status = sa.column('status', sa.String)
_kind = sa.column('kind', sa.String)
_DEADLINE_FIRST = sa.and_(
    _kind.in_(('registration_confirmation', 'time_limit_warning', 'data_deadline')),
    _status.in_(('queued', 'unknown')))


# revision identifiers, used by Alembic.
revision = '3e8a5f1c7d24'
down_revision = '3f9a6c1e7d24'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_per_minute', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_per_day', sa.Integer(), nullable=True))
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_email_due_deadline', ['agency_id', 'next_attempt_at'],
                              unique=False, sqlite_where=_DEADLINE_FIRST,
                              postgresql_where=_DEADLINE_FIRST)


def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_email_due_deadline')
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        batch_op.drop_column('rate_per_day')
        batch_op.drop_column('rate_per_minute')
        batch_op.drop_column('connection_cap')
