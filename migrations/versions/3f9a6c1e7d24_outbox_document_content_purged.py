"""outbox documents: the content may be NULL once the retention purge deleted it, the name, type
and size stay for the email log; refused documents: the request (Idempotency-Key) a refusal
was noted for, so that its retries are not counted again

Revision ID: 3f9a6c1e7d24
Revises: b7e3d1a4c2f9
Create Date: 2026-12-05 13:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f9a6c1e7d24'
down_revision = 'b7e3d1a4c2f9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_document', schema=None) as batch_op:
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table('refused_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_refused_document_request', ['agency_id', 'request_key'],
                              unique=True)


def downgrade():
    with op.batch_alter_table('refused_document', schema=None) as batch_op:
        batch_op.drop_index('ix_refused_document_request')
        batch_op.drop_column('request_key')
    # A purged document has nothing left to keep but its name: it goes with the NOT NULL.
    op.execute(sa.text('DELETE FROM outbox_document WHERE content IS NULL'))
    with op.batch_alter_table('outbox_document', schema=None) as batch_op:
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=False)
