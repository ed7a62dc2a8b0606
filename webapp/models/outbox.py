"""The transactional outbox: every email to send is a row, written with the event that causes it."""
from sqlalchemy import (JSON, ForeignKey, Index, String, Text, UniqueConstraint, and_, literal_column,
                        or_)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

# queued -> sending -> sent | failed | skipped | unknown (connection lost after DATA, RFC 1047);
# sent -> bounced when the recipient's side returned it later (webapp/bounces/).
STATUSES = ("queued", "sending", "sent", "failed", "skipped", "unknown", "bounced")


class OutboxEmail(db.Model):
    __table_args__ = (
        UniqueConstraint("agency_id", "dedupe_key"),
        # The email log, newest first, whole or of one status (its filter, the troubleshooting
        # counts), read in order instead of sorting an agency's history at every page (2.2 s at
        # 400,000 emails); and an agency's rows whose lease ran out (status "sending").
        Index("ix_outbox_email_agency_created", "agency_id", "created_at", "id"),
        Index("ix_outbox_email_agency_status", "agency_id", "status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(40))
    # The same event can never produce the same email twice (replays, two schedulers).
    dedupe_key: Mapped[str] = mapped_column(String(200))
    to_address: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    # Template variables only; never a secret.
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # After this moment the email is useless (the time limit it warns of has passed): give up.
    expires_at = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until = mapped_column(UTCDateTime)
    resent_after_unknown: Mapped[bool] = mapped_column(default=False)
    subject: Mapped[str] = mapped_column(String(500), default="")
    last_code: Mapped[int | None]
    last_reply: Mapped[str] = mapped_column(Text, default="")
    hint_code: Mapped[str | None] = mapped_column(String(40))
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at = mapped_column(UTCDateTime)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


# Rows a sender may take once their time comes: queued ones, and the one resend of an unknown.
AWAITING_SEND = or_(OutboxEmail.status == "queued",
                    and_(OutboxEmail.status == "unknown", OutboxEmail.resent_after_unknown.is_(False)))
# The claim's index: an agency's sendable rows in the order they fall due, so a batch reads its
# hundred rows and no more. Over (agency_id, status, next_attempt_at) the two statuses made two
# ranges that SQLite merged and sorted whole, every due row of the agency at every claim.
# Queries name AWAITING_SEND itself: both databases use a partial index only for a query whose
# condition contains the index's.
Index("ix_outbox_email_due", OutboxEmail.agency_id, OutboxEmail.next_attempt_at,
      sqlite_where=AWAITING_SEND, postgresql_where=AWAITING_SEND)
# Deadline-critical kinds (a confirmation link that expires, a payment time limit, a data
# deadline) go before the bulk of the same agency: the claim takes them first, from an index of
# their own, so a backlog of bulk mail never delays them and a claim without them costs a probe.
DEADLINE_KINDS = ("registration_confirmation", "time_limit_warning", "data_deadline")
# Written without AWAITING_SEND's own term, so that the claim's deadline query matches this
# index only (SQLite would otherwise as soon take ix_outbox_email_due and read the whole bulk
# backlog to find no deadline email).
# Literal values, not bound parameters: the planner matches a partial index's condition only
# against constants it can see.
DEADLINE_INDEXED = and_(OutboxEmail.kind.in_([literal_column(f"'{kind}'") for kind in DEADLINE_KINDS]),
                        OutboxEmail.status.in_([literal_column("'queued'"),
                                                literal_column("'unknown'")]))
# With DEADLINE_INDEXED: the same rows as AWAITING_SEND.
DEADLINE_AWAITING = or_(OutboxEmail.status == "queued", OutboxEmail.resent_after_unknown.is_(False))
Index("ix_outbox_email_due_deadline", OutboxEmail.agency_id, OutboxEmail.next_attempt_at,
      sqlite_where=DEADLINE_INDEXED, postgresql_where=DEADLINE_INDEXED)


class SendingPause(db.Model):
    """An agency whose settings failed in a way every email would repeat (login refused, TLS wrong,
    incomplete). First "failing": its emails wait until a second attempt at `retry_at`; if that
    fails too, "paused": nothing is sent, and a probe at `retry_at` (on a backoff) resumes sending
    when the server takes the settings again. No hint code: incomplete or undecryptable settings."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="paused", server_default="paused")
    hint_code: Mapped[str | None] = mapped_column(String(40))
    reply: Mapped[str] = mapped_column(Text, default="")
    # Since when it is failing or paused (the banner's "since").
    paused_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Failing: when the confirming attempt is made. Paused: when the next probe is due.
    retry_at = mapped_column(UTCDateTime)
    probes: Mapped[int] = mapped_column(default=0, server_default="0")
    # The operator channel told the agency's admins of this pause (once per pause).
    admins_told_at = mapped_column(UTCDateTime)
