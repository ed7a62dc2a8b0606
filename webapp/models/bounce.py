"""Bounces read back from the sending mailbox over IMAP: where to read them, and each one recorded."""
from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.outbox import OutboxEmail
from webapp.models.types import UTCDateTime, utcnow


class IncomingMailSettings(db.Model):
    """An agency's incoming (IMAP) mailbox, where providers return undeliverable mail. Off by default."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    host: Mapped[str] = mapped_column(String(253), default="")
    port: Mapped[int | None]
    security: Mapped[str] = mapped_column(String(16), default="tls")  # none | starttls | tls
    login: Mapped[str] = mapped_column(String(320), default="")
    # MultiFernet token, as the SMTP password; the plaintext never leaves webapp.mail_secrets.
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    # keep (never touch the mailbox) | seen (mark bounces as read) | move (to move_folder)
    after_reading: Mapped[str] = mapped_column(String(8), default="keep")
    move_folder: Mapped[str] = mapped_column(String(200), default="")
    # RFC 3501 2.3.1.1: UIDs are only meaningful with the mailbox's UIDVALIDITY.
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_checked_at = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(40), default="")
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class Bounce(db.Model):
    """One recipient of one sent email reported undeliverable by a delivery status notification."""

    __table_args__ = (
        # Two readers of the same mailbox at once record a bounce once.
        UniqueConstraint("outbox_email_id", "recipient"),
        # "Has this client's address bounced before?" for the email log's warning.
        Index("ix_bounce_agency_recipient", "agency_id", "recipient"),
        Index("ix_bounce_agency_created", "agency_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    outbox_email_id: Mapped[int] = mapped_column(ForeignKey("outbox_email.id"))
    recipient: Mapped[str] = mapped_column(String(320))  # lower case
    status: Mapped[str] = mapped_column(String(16), default="")  # RFC 3463, e.g. 5.1.1
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(40))
    permanent: Mapped[bool] = mapped_column(default=True)
    # Which format it was read in: rfc3464, exim, postfix, exchange, gmail, text.
    report_format: Mapped[str] = mapped_column(String(16), default="")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


# A bounce names the returned message by its Message-ID: find the email without reading the
# agency's history (400,000 rows in docs/PERFORMANCE.md). Set once per email, when it is sent.
Index("ix_outbox_email_agency_message_id", OutboxEmail.agency_id, OutboxEmail.message_id)
