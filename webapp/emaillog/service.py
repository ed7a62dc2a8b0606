"""Reading the email log of an agency, and resending what failed."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import OutboxEmail
from webapp.models.types import utcnow
from webapp.outbox import reasons
from webapp.outbox.service import wake

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


def resend(agency_id: int, row_ids: list[int]) -> int:
    """Queue failed, skipped or unknown rows of this agency again; returns how many."""
    if not row_ids:
        return 0
    result = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.id.in_(row_ids),
               OutboxEmail.status.in_(RESENDABLE))
        .values(status="queued", status_reason=reasons.RESENT,
                next_attempt_at=utcnow(), lease_owner=None, lease_until=None,
                resent_after_unknown=False)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount:
        wake(agency_id)
    return result.rowcount
