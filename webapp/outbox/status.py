"""What an agency's staff are told about its sending: working, failing or paused and why, what
waits and when it expires, and the last 24 hours (the banner, the home page, the operator notice)."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from webapp.extensions import db
from webapp.models import OutboxEmail, SendingPause
from webapp.models.outbox import AWAITING_SEND
from webapp.models.types import utcnow
from webapp.outbox import reasons
from webapp.outbox.sender import current_failure
from webapp.smtpcheck.hints import hint_for

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Waiting:
    """The agency's emails waiting to go; those with a deadline are dropped as "too late" once
    it passes: `expiring` of them by `first_expiry` at the earliest, `expired` already past it."""

    count: int
    expiring: int
    first_expiry: datetime | None
    expired: int


@dataclass(frozen=True)
class SendingState:
    state: str  # working | failing | paused
    since: datetime | None = None
    hint: object = None  # the catalogue's Hint, None when the settings are incomplete
    reply: str = ""
    retry_at: datetime | None = None  # failing: the confirming attempt; paused: the next probe

    @property
    def working(self) -> bool:
        return self.state == "working"


@dataclass(frozen=True)
class LastDay:
    sent: int
    failed: int
    top_reason: str  # a hint's or a status reason's title, "" when nothing failed
    top_count: int
    top_field: str | None  # the settings field the top hint names, if any


def sending_state(agency_id: int) -> SendingState:
    return state_of(current_failure(agency_id))


def state_of(failure: SendingPause | None) -> SendingState:
    if failure is None:
        return SendingState("working")
    hint = hint_for(failure.hint_code, reply=failure.reply) if failure.hint_code else None
    return SendingState(failure.state, failure.paused_at, hint, failure.reply, failure.retry_at)


def waiting(agency_id: int, now: datetime | None = None) -> Waiting:
    now = now or utcnow()
    ahead = OutboxEmail.expires_at > now
    count, expiring, first_expiry, expired = db.session.execute(
        select(func.count(OutboxEmail.id),
               func.count(case((ahead, OutboxEmail.id))),
               func.min(case((ahead, OutboxEmail.expires_at))),
               func.count(case((OutboxEmail.expires_at <= now, OutboxEmail.id))))
        .where(OutboxEmail.agency_id == agency_id, AWAITING_SEND)).one()
    if first_expiry is not None and first_expiry.tzinfo is None:
        first_expiry = OutboxEmail.expires_at.type.process_result_value(first_expiry, None)
    return Waiting(count, expiring, first_expiry, expired)


def last_day(agency_id: int, now: datetime | None = None) -> LastDay:
    """Sent and failed in the last 24 hours, and the most frequent reason of the failures."""
    since = (now or utcnow()) - DAY
    sent = db.session.execute(select(func.count(OutboxEmail.id)).where(
        OutboxEmail.agency_id == agency_id, OutboxEmail.status == "sent",
        OutboxEmail.sent_at >= since)).scalar_one()
    reasons_seen = db.session.execute(
        select(OutboxEmail.hint_code, OutboxEmail.status_reason, func.count(OutboxEmail.id))
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.status == "failed",
               OutboxEmail.updated_at >= since)
        .group_by(OutboxEmail.hint_code, OutboxEmail.status_reason)).all()
    failed = sum(count for *_key, count in reasons_seen)
    if not reasons_seen:
        return LastDay(sent, 0, "", 0, None)
    hint_code, reason, top_count = max(reasons_seen, key=lambda seen: seen[2])
    # The server's refusal explains a refused or given-up email; for the others (too late, an
    # address that cannot be written) the hint is only what an earlier attempt ran into.
    hint = hint_for(hint_code) if hint_code and reason in (reasons.REFUSED, reasons.GAVE_UP) else None
    title = hint.title if hint else reasons.TITLES.get(reason, reason)
    return LastDay(sent, failed, str(title), top_count, hint.field if hint else None)


@dataclass(frozen=True)
class Banner:
    """What the banner on every page of the agency says while its sending is failing or paused."""

    state: SendingState
    waiting: Waiting


def banner(agency_id: int) -> Banner | None:
    """None while sending works: one indexed lookup, the only cost on every page."""
    failure = current_failure(agency_id)
    if failure is None:
        return None
    return Banner(state_of(failure), waiting(agency_id))
