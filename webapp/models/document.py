"""Documents the booking engine attaches to an event (S15), kept with their outbox email, and the
attachments it refused (for the troubleshooting page)."""
from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class OutboxDocument(db.Model):
    """One attachment of an outbox email, in the database with it: written in the event's
    transaction, so an accepted event never loses its documents; its bytes deleted by the
    retention purge."""

    __table_args__ = (Index("ix_outbox_document_email", "outbox_email_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    outbox_email_id: Mapped[int] = mapped_column(ForeignKey("outbox_email.id", ondelete="CASCADE"))
    # Sanitised: no path, no control characters.
    filename: Mapped[str] = mapped_column(String(255))
    # Decided by the content's magic bytes, not by what the engine declared.
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    # NULL once purged (RETENTION after the email was done): the name and size stay for the log.
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class RefusedDocument(db.Model):
    """An event refused for its documents (too many, too large, a wrong type): nothing of the
    event is stored, only that it happened, for the troubleshooting check."""

    __table_args__ = (Index("ix_refused_document_agency_at", "agency_id", "refused_at"),
                      Index("ix_refused_document_request", "agency_id", "request_key", unique=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    field: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(300))
    # The request sent with an Idempotency-Key (a digest of both): its retries are one refusal.
    request_key: Mapped[str | None] = mapped_column(String(64))
    refused_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
