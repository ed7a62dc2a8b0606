"""Reading the email log of an agency, and resending what failed."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import OutboxEmail
from webapp.models.types import utcnow
from webapp.notification_kinds import PAYMENT_PROBLEM, TEST_EMAIL
from webapp.outbox import reasons
from webapp.outbox.documents import has_purged_documents
from webapp.outbox.service import wake
from webapp.smtpcheck.hints import AGENCY, CATALOGUE, CLIENT, PAYMENT_PROBLEMS, Hint, hint_for

RESENDABLE = ("failed", "skipped", "unknown")
PAGE_SIZE = 50


@dataclass(frozen=True)
class LogFilter:
    status: str = ""
    kind: str = ""
    recipient: str = ""
    date_from: date | None = None
    date_to: date | None = None


def log_query(agency_id: int, log_filter: LogFilter):
    query = select(OutboxEmail).where(OutboxEmail.agency_id == agency_id)
    if log_filter.status:
        query = query.where(OutboxEmail.status == log_filter.status)
    if log_filter.kind:
        query = query.where(OutboxEmail.kind == log_filter.kind)
    if log_filter.recipient:
        query = query.where(func.lower(OutboxEmail.to_address).contains(
            log_filter.recipient.strip().lower(), autoescape=True))
    if log_filter.date_from:
        query = query.where(OutboxEmail.created_at >= _start_of(log_filter.date_from))
    if log_filter.date_to and log_filter.date_to < date.max:
        query = query.where(OutboxEmail.created_at < _start_of(log_filter.date_to + timedelta(days=1)))
    return query.order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


# Whose address an email of each kind goes to; every other kind goes to the client. A refused
# recipient's hint names that address, and says whether the settings can fix it (S9: a refused
# copies address does not fail the client's email, so no row is ever about the copies).
RECIPIENT_ROLES = {PAYMENT_PROBLEM: PAYMENT_PROBLEMS, TEST_EMAIL: AGENCY}


def row_hint(row: OutboxEmail) -> Hint | None:
    """The hint for a row's last failure, worded for the address the row was sent to."""
    if row.hint_code not in CATALOGUE:
        return None
    reply = f"{row.last_code} {row.last_reply or ''}".strip() if row.last_code else (row.last_reply or "")
    return hint_for(row.hint_code, reply=reply, recipient=RECIPIENT_ROLES.get(row.kind, CLIENT))


def resend(agency_id: int, row_ids: list[int]) -> tuple[int, int]:
    """Queue failed, skipped or unknown rows of this agency again; returns how many, and how many
    were refused because their documents were deleted (RETENTION): "your tickets are attached"
    with nothing attached would mislead the client."""
    if not row_ids:
        return 0, 0
    resendable = (OutboxEmail.agency_id == agency_id, OutboxEmail.id.in_(row_ids),
                  OutboxEmail.status.in_(RESENDABLE))
    refused = db.session.execute(select(func.count(OutboxEmail.id)).where(
        *resendable, has_purged_documents())).scalar_one()
    result = db.session.execute(
        update(OutboxEmail)
        .where(*resendable, ~has_purged_documents())
        .values(status="queued", status_reason=reasons.RESENT,
                next_attempt_at=utcnow(), lease_owner=None, lease_until=None,
                resent_after_unknown=False)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount:
        wake(agency_id)
    return result.rowcount, refused
