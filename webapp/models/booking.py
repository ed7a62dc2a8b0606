"""What the booking engine tells us about: clients, orders, and the API's tokens and replays."""
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

CLIENT_STATUSES = ("unconfirmed", "confirmed", "expired")
ORDER_STATUSES = ("booked", "issued", "cancelled")


class Client(db.Model):
    """A client registered on the agency's booking site; confirms by the emailed link (S4)."""

    __table_args__ = (
        # S4: once a registration expires its login is free again, so only live logins are unique.
        Index("uq_client_agency_id_login_live", "agency_id", "login", unique=True,
              sqlite_where=text("status != 'expired'"),
              postgresql_where=text("status != 'expired'")),
        # S4's periodic job takes only the registrations whose expiry has come (O(due)); the
        # index holds just the pending ones, since expires_at is cleared on confirm and expiry.
        Index("ix_client_expires_at", "expires_at",
              sqlite_where=text("expires_at IS NOT NULL"),
              postgresql_where=text("expires_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    login: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="unconfirmed")
    registered_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    confirmed_at = mapped_column(UTCDateTime)
    expired_at = mapped_column(UTCDateTime)
    # When this unconfirmed registration expires (registered_at + the agency's expiry); None with
    # no expiry set and once confirmed or expired. Recomputed when the setting changes.
    expires_at = mapped_column(UTCDateTime)


class Order(db.Model):
    """A booking as the engine last described it: the source of order-change emails and deadlines."""

    __tablename__ = "booking_order"  # "order" is reserved in SQL
    __table_args__ = (
        UniqueConstraint("agency_id", "number"),
        # The periodic rules take only the orders whose next email is due (O(due), not O(orders));
        # partial, so the indexes hold just the pending orders.
        Index("ix_booking_order_warn_due_at", "warn_due_at",
              sqlite_where=text("warn_due_at IS NOT NULL"),
              postgresql_where=text("warn_due_at IS NOT NULL")),
        Index("ix_booking_order_data_due_at", "data_due_at",
              sqlite_where=text("data_due_at IS NOT NULL"),
              postgresql_where=text("data_due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    number: Mapped[str] = mapped_column(String(40))
    client_email: Mapped[str] = mapped_column(String(320))
    client_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    paid: Mapped[bool] = mapped_column(default=False)
    payment_time_limit = mapped_column(UTCDateTime)
    data_deadline = mapped_column(UTCDateTime)
    data_complete: Mapped[bool] = mapped_column(default=False)
    # The client's language as the engine last gave it (ru/en); None: the agency's default.
    language: Mapped[str | None] = mapped_column(String(8))
    # The amount to pay, as the engine wrote it ("12500.00") with its ISO 4217 currency.
    amount: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str | None] = mapped_column(String(3))
    # The itinerary in words for the client (flights, hotel), shown in the booking confirmation.
    itinerary: Mapped[str | None] = mapped_column(Text, default="")
    # The UTC offset the engine writes this order's times in: people read the times in it.
    utc_offset_minutes: Mapped[int | None]
    # Bumped by each change the engine reports; an order-change email is keyed by it, so a
    # replayed event sends nothing twice while two real changes both notify.
    revision: Mapped[int] = mapped_column(default=0)
    # The last change's summary: the same summary again with nothing else changed is a replay.
    change_summary: Mapped[str] = mapped_column(Text, default="")
    # When the time-limit warning (S6) and the data-deadline notification (S5) fall due; None when
    # none is pending. Kept by webapp.schedule.due.reschedule, cleared by the tick that sends.
    warn_due_at = mapped_column(UTCDateTime)
    data_due_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class ApiToken(db.Model):
    """The agency's one booking-engine token; only its SHA-256 is kept, the token is shown once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_used_at = mapped_column(UTCDateTime)


class IdempotencyRecord(db.Model):
    """The response to a request sent with an Idempotency-Key, replayed when the key comes again."""

    __table_args__ = (UniqueConstraint("agency_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: the same key with another request is the client's bug.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request with this key is still running.
    response_status: Mapped[int | None]
    response_body: Mapped[dict | None] = mapped_column(JSON)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
