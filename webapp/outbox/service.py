"""Writing outbox rows inside the caller's transaction, and waking the sender after commit."""
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, get_queue, redis_connection
from webapp.models import Agency, OutboxEmail
from webapp.models.outbox import AWAITING_SEND
from webapp.models.types import utcnow
from webapp.outbox import reasons
from webapp.outbox.documents import store_documents

# While this flag is set a send job for the agency is queued and will see every row committed
# before it starts; it expires by itself so a lost job cannot silence an agency for long.
WAKE_FLAG = "outbox:wake:{agency_id}"
WAKE_FLAG_TTL = 300
# Far above the sender's own time budget (sender.JOB_TIME_BUDGET_S): RQ's timeout interrupts a
# job wherever it is, so it must never be what ends a send job.
SEND_JOB_TIMEOUT = 900


def queue_email(agency_id: int, kind: str, to_address: str, context: dict, dedupe_key: str, *,
                language: str = "ru", not_before: datetime | None = None,
                expires_at: datetime | None = None, documents=()) -> bool:
    """Add an email to the outbox in the current transaction; False if that dedupe key exists.

    INSERT ... ON CONFLICT DO NOTHING makes replays and concurrent schedulers harmless on
    SQLite and PostgreSQL alike, without a savepoint. Its documents (S15) are stored with a new
    row only: a replayed event stores nothing again.
    """
    values = _row_values(agency_id, kind, to_address, context, dedupe_key, language=language,
                         not_before=not_before, expires_at=expires_at)
    statement = _insert_new(OutboxEmail).values(**values).returning(OutboxEmail.id)
    # RETURNING, not rowcount: an ORM insert reports no rowcount through psycopg.
    inserted = db.session.execute(statement).first()
    if inserted is not None and documents:
        store_documents(agency_id, inserted.id, documents)
    return inserted is not None


def queue_emails(emails: list[dict]) -> None:
    """Many queue_email calls (their arguments as dicts) in one statement, for a batch of events;
    a dedupe key that exists is skipped the same way."""
    if emails:
        # The table, not the model: a plain executemany, without the ORM's bulk bookkeeping.
        db.session.execute(_insert_new(OutboxEmail.__table__),
                           [_row_values(**email) for email in emails])


def _row_values(agency_id: int, kind: str, to_address: str, context: dict, dedupe_key: str, *,
                language: str = "ru", not_before: datetime | None = None,
                expires_at: datetime | None = None) -> dict:
    now = utcnow()
    return dict(agency_id=agency_id, kind=kind, to_address=to_address, context=context,
                dedupe_key=dedupe_key, language=language, status="queued", status_reason="",
                attempts=0, next_attempt_at=not_before or now, expires_at=expires_at,
                resent_after_unknown=False, subject="", last_reply="", created_at=now,
                updated_at=now)


def _insert_new(target):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(target).on_conflict_do_nothing(index_elements=["agency_id", "dedupe_key"])


def wake(agency_id: int) -> bool:
    """Make sure a send job for the agency is queued; call after the rows are committed."""
    from webapp.jobs import send_outbox
    connection = redis_connection()
    if not connection.set(WAKE_FLAG.format(agency_id=agency_id), 1, nx=True, ex=WAKE_FLAG_TTL):
        return False
    get_queue(MAIL_QUEUE).enqueue(send_outbox, agency_id, job_timeout=SEND_JOB_TIMEOUT,
                                  result_ttl=0, failure_ttl=86400)
    return True


def clear_wake(agency_id: int) -> None:
    """Called by the send job before it claims rows, so later commits queue a new job."""
    redis_connection().delete(WAKE_FLAG.format(agency_id=agency_id))


def due_condition(now: datetime):
    """Rows a sender may take now: queued and due, and the one resend of an unknown."""
    return and_(AWAITING_SEND, OutboxEmail.next_attempt_at <= now)


def abandoned_condition(now: datetime):
    """Rows of a batch whose lease ran out (its worker died): settled from its journal before
    anything is sent again (sender.settle_abandoned)."""
    return and_(OutboxEmail.status == "sending", OutboxEmail.lease_until < now)


def sweep(now: datetime | None = None) -> int:
    """Wake every agency with due rows: retries whose time came, rows of crashed workers, and
    rows whose after-commit wake was lost. Returns how many agencies were woken."""
    now = now or utcnow()

    def any_row(condition):
        return select(OutboxEmail.id).where(OutboxEmail.agency_id == Agency.id, condition).exists()

    # One probe of the indexes an agency, each stopping at its first row: DISTINCT over the rows
    # themselves read the whole backlog every minute (620 ms at 400,000 waiting).
    agency_ids = db.session.execute(
        select(Agency.id).where(or_(any_row(due_condition(now)),
                                    any_row(abandoned_condition(now))))).scalars()
    return sum(wake(agency_id) for agency_id in agency_ids)


def withdraw_unsent(agency_id: int, dedupe_prefix: str) -> int:
    """Skip the agency's not-yet-sent emails whose dedupe key starts with the prefix (their
    event no longer holds), in the caller's transaction; returns how many."""
    return db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.status.in_(("queued", "unknown")),
               OutboxEmail.dedupe_key.startswith(dedupe_prefix, autoescape=True))
        .values(status="skipped", status_reason=reasons.NO_LONGER_NEEDED, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
