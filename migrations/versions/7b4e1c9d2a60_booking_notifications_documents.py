"""booking notifications (S14) and their documents (S15): the order's language, amount and
itinerary, the agency's client language and agency-address toggles, outbox documents, refused
documents; the new kinds' default templates for agencies made before them

Revision ID: 7b4e1c9d2a60
Revises: 7c41e2d9a0b5
Create Date: 2026-12-05 12:30:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from webapp.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '7b4e1c9d2a60'
down_revision = '7c41e2d9a0b5'
branch_labels = None
depends_on = None

_NEW_KINDS = ('booking_created', 'booking_issued', 'booking_cancelled', 'payment_received',
              'agency_booking_created', 'agency_booking_issued', 'agency_booking_cancelled',
              'agency_booking_changed', 'agency_payment_received')
_TOGGLES = ('notify_agency_booking_created', 'notify_agency_booking_issued',
            'notify_agency_booking_cancelled', 'notify_agency_booking_changed',
            'notify_agency_payment_received')


def upgrade():
    with op.batch_alter_table('booking_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('amount', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('itinerary', sa.Text(), nullable=True))
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_language', sa.String(length=8), nullable=False,
                                      server_default='ru'))
        for name in _TOGGLES:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                          server_default=sa.true()))
    # Client emails went out in the agency's language until now: they keep doing so.
    op.execute(sa.text('UPDATE mail_settings SET client_language = (SELECT agency.locale FROM '
                       'agency WHERE agency.id = mail_settings.agency_id)'))
    # The defaults were for existing rows only; the models set them for new ones.
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        batch_op.alter_column('client_language', server_default=None)
        for name in _TOGGLES:
            batch_op.alter_column(name, server_default=None)
    op.create_table(
        'outbox_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('outbox_email_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id']),
        sa.ForeignKeyConstraint(['outbox_email_id'], ['outbox_email.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_outbox_document_email', 'outbox_document', ['outbox_email_id'])
    op.create_table(
        'refused_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('refused_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_refused_document_agency_at', 'refused_document', ['agency_id', 'refused_at'])
    _add_default_templates()


def _add_default_templates():
    """Agencies made before these kinds get their default templates, as a new agency does: a
    missing template would skip the emails (S11)."""
    from webapp.mailtemplates.defaults import LANGUAGES, default_template
    connection = op.get_bind()
    agency_ids = connection.execute(sa.text('SELECT id FROM agency')).scalars().all()
    existing = set(connection.execute(sa.text(
        'SELECT agency_id, kind, language FROM email_template')).all())
    template = sa.table('email_template', sa.column('agency_id', sa.Integer),
                        sa.column('kind', sa.String), sa.column('language', sa.String),
                        sa.column('subject', sa.String), sa.column('body_text', sa.Text),
                        sa.column('body_html', sa.Text), sa.column('enabled', sa.Boolean),
                        sa.column('updated_at', UTCDateTime))
    now = datetime.now(timezone.utc)
    rows = []
    for agency_id in agency_ids:
        for kind in _NEW_KINDS:
            for language in LANGUAGES:
                if (agency_id, kind, language) in existing:
                    continue
                default = default_template(kind, language)
                rows.append(dict(agency_id=agency_id, kind=kind, language=language,
                                 subject=default.subject, body_text=default.body_text,
                                 body_html=default.body_html, enabled=True, updated_at=now))
    if rows:
        op.bulk_insert(template, rows)


def downgrade():
    op.execute(sa.text('DELETE FROM email_template WHERE kind IN ('
                       + ', '.join(f"'{kind}'" for kind in _NEW_KINDS) + ')'))
    op.drop_index('ix_refused_document_agency_at', table_name='refused_document')
    op.drop_table('refused_document')
    op.drop_index('ix_outbox_document_email', table_name='outbox_document')
    op.drop_table('outbox_document')
    with op.batch_alter_table('mail_settings', schema=None) as batch_op:
        for name in ('client_language',) + _TOGGLES:
            batch_op.drop_column(name)
    with op.batch_alter_table('booking_order', schema=None) as batch_op:
        for name in ('itinerary', 'currency', 'amount', 'language'):
            batch_op.drop_column(name)
