"""bounces read back over IMAP: the agency's incoming mailbox settings, each recorded bounce, and
the outbox's Message-IDs indexed so a bounce finds its email

Revision ID: b7e3d1a4c2f9
Revises: 7b4e1c9d2a60
Create Date: 2026-12-05 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'b7e3d1a4c2f9'
down_revision = '7b4e1c9d2a60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'incoming_mail_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=False),
        sa.Column('port', sa.Integer(), nullable=True),
        sa.Column('security', sa.String(length=16), nullable=False),
        sa.Column('login', sa.String(length=320), nullable=False),
        sa.Column('password_encrypted', sa.Text(), nullable=True),
        sa.Column('after_reading', sa.String(length=8), nullable=False),
        sa.Column('move_folder', sa.String(length=200), nullable=False),
        sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
        sa.Column('last_uid', sa.BigInteger(), nullable=False),
        sa.Column('last_checked_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=40), nullable=False),
        sa.Column('updated_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('agency_id'),
    )
    op.create_table(
        'bounce',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('outbox_email_id', sa.Integer(), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('diagnostic', sa.Text(), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('permanent', sa.Boolean(), nullable=False),
        sa.Column('report_format', sa.String(length=16), nullable=False),
        sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id']),
        sa.ForeignKeyConstraint(['outbox_email_id'], ['outbox_email.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('outbox_email_id', 'recipient'),
    )
    with op.batch_alter_table('bounce', schema=None) as batch_op:
        batch_op.create_index('ix_bounce_agency_recipient', ['agency_id', 'recipient'], unique=False)
        batch_op.create_index('ix_bounce_agency_created', ['agency_id', 'created_at'], unique=False)
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_email_agency_message_id', ['agency_id', 'message_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_email_agency_message_id')
    with op.batch_alter_table('bounce', schema=None) as batch_op:
        batch_op.drop_index('ix_bounce_agency_created')
        batch_op.drop_index('ix_bounce_agency_recipient')
    op.drop_table('bounce')
    op.drop_table('incoming_mail_settings')
