"""outbox indexes for a large backlog: an agency's sendable rows in the order they fall due,
its email log newest first (whole or of one status), instead of status-and-due indexes

Revision ID: 5d2c0e7a9b31
Revises: 10045aba89e1
Create Date: 2026-11-26 17:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d2c0e7a9b31'
down_revision = '10045aba89e1'
branch_labels = None
depends_on = None

# models/outbox.py AWAITING_SEND, as it stood when this index was made.
_status = sa.column('status', sa.String)
_resent = sa.column('resent_after_unknown', sa.Boolean)
_AWAITING_SEND = sa.or_(_status == 'queued', sa.and_(_status == 'unknown', _resent.is_(False)))


def upgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_email_due', ['agency_id', 'next_attempt_at'], unique=False,
                              sqlite_where=_AWAITING_SEND, postgresql_where=_AWAITING_SEND)
        batch_op.create_index('ix_outbox_email_agency_created', ['agency_id', 'created_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_outbox_email_agency_status',
                              ['agency_id', 'status', 'created_at', 'id'], unique=False)
        batch_op.drop_index('ix_outbox_email_status_due')
        batch_op.drop_index('ix_outbox_email_agency_status_due')


def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_email_agency_status_due',
                              ['agency_id', 'status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_email_status_due', ['status', 'next_attempt_at'],
                              unique=False)
        batch_op.drop_index('ix_outbox_email_agency_status')
        batch_op.drop_index('ix_outbox_email_agency_created')
        batch_op.drop_index('ix_outbox_email_due')
