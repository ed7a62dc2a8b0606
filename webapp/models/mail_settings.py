"""An agency's outgoing-mail settings (S2, S4-S9): one row per agency, and the history of its changes."""
from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class MailSettings(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), unique=True)
    host: Mapped[str] = mapped_column(String(253), default="")
    port: Mapped[int | None]
    security: Mapped[str] = mapped_column(String(16), default="starttls")  # none | starttls | tls
    login: Mapped[str] = mapped_column(String(320), default="")
    # MultiFernet token; the plaintext never leaves webapp.mail_secrets.
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    sender_address: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    copies_email: Mapped[str] = mapped_column(String(320), default="")
    payment_problems_email: Mapped[str] = mapped_column(String(320), default="")
    order_change_emails: Mapped[bool] = mapped_column(default=True)
    # The language of client emails when the engine's event does not name one (ru/en).
    client_language: Mapped[str] = mapped_column(String(8), default="ru")
    # Which booking events the agency's own address hears of (S14); all on for a new agency.
    notify_agency_booking_created: Mapped[bool] = mapped_column(default=True)
    notify_agency_booking_issued: Mapped[bool] = mapped_column(default=True)
    notify_agency_booking_cancelled: Mapped[bool] = mapped_column(default=True)
    notify_agency_booking_changed: Mapped[bool] = mapped_column(default=True)
    notify_agency_payment_received: Mapped[bool] = mapped_column(default=True)
    unconfirmed_expiry_minutes: Mapped[int | None]
    data_deadline_hours: Mapped[int | None]
    warn_from_minutes: Mapped[int | None]
    warn_to_minutes: Mapped[int | None]
    # The agency's own sending limits (outbox.limits); None: its provider's published ones.
    connection_cap: Mapped[int | None]
    rate_per_minute: Mapped[int | None]
    rate_per_day: Mapped[int | None]
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    agency = relationship("Agency", backref=db.backref("mail_settings", uselist=False))


class MailSettingsChange(db.Model):
    """One save of an agency's mail settings: who, when, which fields (names only, never values)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    # None when an operator changed the settings from the command line (source "cli").
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    source: Mapped[str] = mapped_column(String(16), default="web")  # web | cli
    at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    fields: Mapped[list] = mapped_column(JSON)

    user = relationship("User")
