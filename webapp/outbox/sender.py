"""Sending an agency's due outbox rows: claimed with a lease, in batches over one SMTP connection."""
from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import bindparam, case, delete, func, literal, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.jobs import stop_requested
from webapp.notification_kinds import AGENCY_KINDS
from webapp.mail_secrets import MailSecretError
from webapp.mailsettings.service import MailNotConfigured, smtp_settings_for
from webapp.mailtemplates.render import AgencyTemplate, TemplateBroken, TemplateMissing, load_template
from webapp.models import MailSettings, OutboxEmail, SendingPause
from webapp.models.outbox import DEADLINE_AWAITING, DEADLINE_INDEXED, DEADLINE_KINDS
from webapp.models.types import utcnow
from webapp.outbox import journal, limits, reasons
from webapp.outbox.documents import documents_of, rows_with_documents
from webapp.outbox.journal import Accepted, Journal
from webapp.outbox.service import abandoned_condition, clear_wake, due_condition, wake
from webapp.smtpcheck.connection import Envelope, SmtpError, SmtpSession, open_session
from webapp.smtpcheck.hints import PAUSING_CODES, SESSION_STEPS
from webapp.smtpcheck.message import UnsafeHeader, compose_message, envelope_sender, with_documents

BATCH_SIZE = 100
# Batches one job may send before it yields the worker to other agencies.
BATCHES_PER_JOB = 10
# No new batch after this long: the job ends well inside its RQ timeout (outbox.service's
# SEND_JOB_TIMEOUT), which would otherwise interrupt it anywhere, even between DATA and the commit.
JOB_TIME_BUDGET_S = 120
LEASE = timedelta(minutes=5)
# No email is started later into a lease than LEASE minus this many SMTP timeouts (the longest
# one exchange can take) and the margin: a row must never go out after its lease may have
# passed to another worker.
EXCHANGE_TIMEOUTS = 4
LEASE_MARGIN_S = 30
FIRST_RETRY = timedelta(seconds=60)
LONGEST_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
# RFC 1047: after a connection lost between the end of DATA and the reply the message may have
# been delivered; resend once, later, rather than lose it.
UNKNOWN_RESEND_AFTER = timedelta(minutes=10)
# A batch writes its sent rows at its end, or after this long on a slow server.
STATUS_EVERY_S = 2.0
# The SMTP timeout the sending sessions use (smtpcheck.connection.SmtpSettings.timeout): how
# long a connection slot must outlive its last refresh (limits.slot_ttl).
SLOT_TIMEOUT_S = 15.0
# A failure of the settings is confirmed by a second attempt this much later before sending
# pauses: a provider's passing trouble (a 535 while its auth backend restarts) heals by itself.
CONFIRM_AFTER = timedelta(minutes=3)
# While paused, the probe (connect, TLS, AUTH, no message) runs after these waits, then hourly.
PROBE_BACKOFF = tuple(timedelta(minutes=minutes) for minutes in (2, 5, 10, 30, 60))

# Failures of the agency's settings, not of one email: retrying each row would only repeat them
# (and lock the mailbox after a few wrong passwords), so sending pauses until a test succeeds.
# The hint catalogue decides which they are, so the test page says the same.
PAUSING_HINTS = PAUSING_CODES


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0
    unknown: int = 0
    paused: bool = False
    # The settings just failed once, or failed before and wait for their confirming attempt.
    failing: bool = False
    # The agency was failing: its first accepted email shows the failure did not repeat.
    recovering: bool = False

    def add(self, other: "SendReport") -> None:
        """Another session's outcome, into this one (the job's)."""
        for name in ("sent", "failed", "skipped", "retrying", "unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused |= other.paused
        self.failing |= other.failing
        self.recovering &= other.recovering


def send_due(agency_id: int, *, now: datetime | None = None) -> SendReport:
    """Send what is due for one agency, over up to its connection cap of SMTP sessions at once
    (threads of this job, each with its own database session and its own batches); safe to run
    twice at once, in one worker or in several (rows are leased, connections counted in Redis)."""
    clear_wake(agency_id)
    report = SendReport()
    # Once a job, before the pause check: a paused agency's abandoned rows must not show
    # "sending" for ever. A lease that runs out later waits for the next job (the sweep wakes it).
    settle_abandoned(agency_id, now=now or utcnow())
    failure = current_failure(agency_id)
    if failure is not None and failure.state == "paused":
        report.paused = True
        return report
    if failure is not None and failure.retry_at and (now or utcnow()) < failure.retry_at:
        report.failing = True  # the confirming attempt comes at retry_at (the sweep wakes it)
        return report
    report.recovering = failure is not None
    cap = limits.connection_cap(agency_id)
    sessions = _Sessions(current_app._get_current_object(), agency_id, now, cap,
                         _batch_size(_backlog(agency_id, now or utcnow(), cap), cap),
                         recovering=report.recovering)
    try:
        _run_session(sessions, report)
    finally:
        reports = sessions.join()
    for other in reports:
        report.add(other)
    if sessions.errors:
        raise sessions.errors[0]
    if report.paused or report.failing or sessions.limited or not sessions.any_slot:
        # Without a slot, the sessions holding them queue the next job when they end (below),
        # or, if their worker died, the sweep does once the slots expired.
        return report
    # More is due (a batch limit, a shutdown, rows committed while every slot was taken): queue
    # a fresh job behind the other agencies' jobs. After the slots are given back, so a job that
    # found none while we held them is not left waiting for the sweep.
    if _anything_due(agency_id, now or utcnow()):
        wake(agency_id)
    return report


class _Sessions:
    """The SMTP sessions one send job runs for an agency: the job's own thread, and more threads
    up to the connection cap once a claim shows a backlog (a full batch)."""

    def __init__(self, app, agency_id: int, now: datetime | None, cap: int, batch_size: int, *,
                 recovering: bool):
        self.app, self.agency_id, self.now, self.cap = app, agency_id, now, cap
        self.batch_size = batch_size
        self.recovering = recovering
        self.started = time.monotonic()
        self.halt = threading.Event()  # sending paused or failing: no session claims again
        self.any_slot = False
        self.rates = limits.rates(agency_id)
        self.limited = False  # a sending limit holds the rest back until it lets them go
        self.errors: list[BaseException] = []
        self._threads: list[tuple[threading.Thread, SendReport]] = []
        self._lock = threading.Lock()

    def grow(self) -> None:
        """A full batch was claimed: start the other sessions (once)."""
        with self._lock:
            if self._threads or self.halt.is_set():
                return
            for _ in range(self.cap - 1):
                report = SendReport(recovering=self.recovering)
                thread = threading.Thread(target=self._run_in_thread, args=(report,), daemon=True,
                                          name=f"outbox-{self.agency_id}")
                self._threads.append((thread, report))
                thread.start()

    def _run_in_thread(self, report: SendReport) -> None:
        # An app context of its own: a database session of its own (Flask-SQLAlchemy scopes
        # sessions by app context), never shared between threads.
        with self.app.app_context():
            try:
                _run_session(self, report)
            except BaseException as error:  # the job fails with it, as with one session
                self.errors.append(error)
            finally:
                db.session.remove()

    def join(self) -> list[SendReport]:
        with self._lock:
            threads = list(self._threads)
        for thread, _ in threads:
            thread.join()
        return [report for _, report in threads]


def _run_session(sessions: _Sessions, report: SendReport) -> None:
    """One SMTP session's batches: claim, send, journal, until nothing is due or a limit."""
    agency_id = sessions.agency_id
    slot = limits.Slot(agency_id, sessions.cap, limits.slot_ttl(SLOT_TIMEOUT_S))
    if not slot.take(sessions.now):
        return  # every connection the agency may have is open already
    sessions.any_slot = True
    session = db.session()
    # Re-reading every leased row after a commit bought nothing, since nobody else writes rows
    # leased to us. A batch starts from fresh data instead, so changed settings and templates
    # count from the next batch.
    session.expire_on_commit = False
    try:
        for _ in range(BATCHES_PER_JOB):
            if sessions.halt.is_set() or time.monotonic() - sessions.started > JOB_TIME_BUDGET_S:
                return
            session.expire_all()
            moment = sessions.now or utcnow()
            allowance = limits.reserve(agency_id, sessions.rates, sessions.batch_size, moment)
            if not allowance.granted:
                sessions.limited = True
                _wait_for_limit(agency_id, allowance.opens_at, moment)
                return
            rows = claim_due(agency_id, now=moment, limit=allowance.granted)
            limits.give_back(agency_id, sessions.rates, allowance.granted - len(rows), moment)
            if not rows:
                return
            if len(rows) == sessions.batch_size:
                sessions.grow()
            owner = rows[0].lease_owner  # read now: a row that _prepare finishes gives its lease up
            _send_batch(agency_id, owner, rows, report, slot)
            journal.discard(owner)  # every row of the batch is written
            if report.paused or report.failing:
                sessions.halt.set()
                return
            if stop_requested():
                return  # the worker is shutting down: another one takes the rest
    finally:
        session.expire_on_commit = True
        slot.release()


def _wait_for_limit(agency_id: int, opens_at: datetime, now: datetime) -> None:
    """The agency's sending limit is used up: its next due rows wait, shown as such in the email
    log with the time they go (never failed), and the sweep wakes the agency then. A bounded
    number each time, oldest first: a backlog of a million is labelled as it comes up."""
    waiting = (select(OutboxEmail.id)
               .where(OutboxEmail.agency_id == agency_id, due_condition(now),
                      OutboxEmail.status == "queued")
               .order_by(OutboxEmail.next_attempt_at).limit(BATCH_SIZE * BATCHES_PER_JOB))
    db.session.execute(
        update(OutboxEmail).where(OutboxEmail.id.in_(waiting.scalar_subquery()))
        .values(status_reason=reasons.WAITING_FOR_LIMIT, next_attempt_at=opens_at, updated_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()


def _backlog(agency_id: int, now: datetime, cap: int) -> int:
    """The agency's due rows, counted up to what one job may send (from the due index)."""
    due = (select(OutboxEmail.id).where(OutboxEmail.agency_id == agency_id, due_condition(now))
           .limit(BATCH_SIZE * cap * BATCHES_PER_JOB).subquery())
    return db.session.execute(select(func.count()).select_from(due)).scalar_one()


def _batch_size(backlog: int, cap: int) -> int:
    """Batches of up to BATCH_SIZE that share the backlog evenly among the sessions: 1,000 rows
    over 3 connections as 12 batches of 84 (4 rounds), not 10 of 100 (the last round one
    connection alone, a quarter of the time with a third of the speed)."""
    if backlog <= BATCH_SIZE or cap <= 1:
        return BATCH_SIZE
    batches = -(-backlog // (cap * BATCH_SIZE)) * cap
    return -(-backlog // batches)


def _anything_due(agency_id: int, now: datetime) -> bool:
    return db.session.execute(select(select(OutboxEmail.id).where(
        OutboxEmail.agency_id == agency_id, due_condition(now)).exists())).scalar()


def claim_due(agency_id: int, *, now: datetime, limit: int = BATCH_SIZE) -> list[OutboxEmail]:
    """Lease up to `limit` due rows to this caller (a crashed worker's rows come back once
    settle_abandoned has settled them) and open the batch's journal."""
    owner = str(uuid.uuid4())
    postgresql = db.engine.dialect.name == "postgresql"

    def due(*conditions, rank: int):
        branch = (select(OutboxEmail.id, literal(rank).label("rank"), OutboxEmail.next_attempt_at)
                  .where(OutboxEmail.agency_id == agency_id, *conditions)
                  .order_by(OutboxEmail.next_attempt_at).limit(limit))
        if postgresql:
            branch = branch.with_for_update(skip_locked=True)
        return branch.subquery().select()

    # Deadline-critical emails first (their own index), then all in the order they fell due: a
    # row in both lists counts once, as deadline-critical. (Excluding those from the second list
    # would have it read past every one of them, a whole backlog of confirmations.)
    both = union_all(
        due(DEADLINE_INDEXED, DEADLINE_AWAITING, OutboxEmail.next_attempt_at <= now, rank=0),
        due(due_condition(now), rank=1)).subquery()
    candidates = (select(both.c.id).group_by(both.c.id)
                  .order_by(func.min(both.c.rank), func.min(both.c.next_attempt_at)).limit(limit))
    claim = (update(OutboxEmail)
             .values(status="sending", lease_owner=owner, lease_until=now + LEASE,
                     resent_after_unknown=case((OutboxEmail.status == "unknown", True),
                                               else_=OutboxEmail.resent_after_unknown))
             .returning(OutboxEmail))
    if db.engine.dialect.name == "postgresql":
        # Materialized, so the candidates are picked once: as a plain subquery PostgreSQL may
        # rescan it for each row of a nested-loop join, and LIMIT then claims more than `limit`.
        candidates = candidates.cte("candidates").prefix_with("MATERIALIZED")
        # The due condition again: under READ COMMITTED another worker may have claimed a row
        # between our subquery and our update.
        claim = claim.where(OutboxEmail.id.in_(select(candidates.c.id)), due_condition(now))
    else:
        # SQLite runs one writer at a time, the statement whole: its rows are still due. A second
        # due condition here would also have it walk every due row of every agency instead of
        # looking up the hundred ids.
        claim = claim.where(OutboxEmail.id.in_(candidates.scalar_subquery()))
    # populate_existing: settling may have loaded some of these rows before.
    # Sent in this order: deadline-critical ones first.
    rows = sorted(db.session.scalars(claim, execution_options={"populate_existing": True}),
                  key=lambda row: (row.kind not in DEADLINE_KINDS, row.id))
    db.session.commit()
    # Before any message of the batch can go: from here on a missing journal means a lost one.
    journal.start(owner)
    return rows


def _send_batch(agency_id: int, owner: str, rows: list[OutboxEmail], report: SendReport,
                slot: limits.Slot | None = None) -> None:
    claimed_at = time.monotonic()
    try:
        settings = smtp_settings_for(agency_id)
    except (MailNotConfigured, MailSecretError) as problem:
        # Nothing can be sent until an administrator fixes the settings: wait, do not fail.
        _release(rows)
        pause(agency_id, None, str(problem))
        report.paused = True
        return
    copies = db.session.execute(select(MailSettings.copies_email)
                                .filter_by(agency_id=agency_id)).scalar_one()
    ready: list[_Outgoing] = []
    templates: dict[tuple[str, str], AgencyTemplate | None] = {}
    for row in rows:
        outgoing = _prepare(row, settings, templates, report)
        if outgoing is not None:
            ready.append(outgoing)
    db.session.commit()
    if not ready:
        return
    try:
        session = open_session(settings)
    except SmtpError as error:
        for outgoing in ready:
            outgoing.note_on_row()
        _connection_failed(agency_id, [outgoing.row for outgoing in ready], error, report)
        return
    last_start = claimed_at + LEASE.total_seconds() - LEASE_MARGIN_S \
        - EXCHANGE_TIMEOUTS * settings.timeout
    delivery = _Delivery(agency_id, owner, slot)
    try:
        with session:
            envelopes = _Envelopes(ready, settings, copies,
                                   rows_with_documents([outgoing.row.id for outgoing in ready]))
            for index, outgoing in enumerate(ready):
                if time.monotonic() > last_start:
                    _release([later.row for later in ready[index:]])
                    break
                following = envelopes[index + 1] if index + 1 < len(ready) else None
                if not _send_one(session, outgoing, envelopes[index], following, report, delivery):
                    _release([later.row for later in ready[index + 1:]])
                    break
                envelopes.forget(index)
            delivery.write()  # before QUIT, which can take a whole timeout
    except BaseException:
        _salvage(delivery, ready)
        raise
    finally:
        delivery.journal.close()


def _salvage(delivery: _Delivery, ready: list[_Outgoing]) -> None:
    """After an unexpected error mid-batch (Redis or the database gone, a job timeout): write
    what the server accepted and give back the rows never handed to it; the one in flight stays
    leased, for settling to send again later. If the database is what failed, settling after
    the lease does it all from the journal."""
    try:
        _release([outgoing.row for outgoing in ready if outgoing.row.id not in delivery.handed])
        delivery.write()
    except Exception:
        db.session.rollback()


@dataclass
class _Outgoing:
    """A row's message, ready to send. Its subject and Message-ID reach the row with its status
    (one write for the batch), or at once if it is not accepted."""
    row: OutboxEmail
    message: EmailMessage
    subject: str

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def note_on_row(self) -> None:
        self.row.subject, self.row.message_id = self.subject, self.message_id


class _Delivery:
    """A batch's accepted rows: journaled in Redis before each next message goes out, written to
    the database together (one transaction a batch, not one a message), or every
    STATUS_EVERY_S on a slow server, so the email log never lags far behind."""

    def __init__(self, agency_id: int, owner: str, slot: limits.Slot | None = None):
        self.agency_id, self.owner, self.journal = agency_id, owner, Journal(owner)
        self.slot = slot
        self.handed: set[int] = set()
        self._accepted: list[Accepted] = []
        self._journaled = 0
        self._written_at = time.monotonic()

    def handing(self, row: OutboxEmail) -> None:
        """Called before a row goes to the server; raises if Redis cannot record it, and the row
        is then not sent."""
        if self.slot is not None:
            self.slot.keep()
        if self.journal.handing(row.id, self._accepted[self._journaled:]) and self.handed:
            self.write()  # Redis lost the journal mid-batch: the database keeps what it held
        self._journaled = len(self._accepted)
        self.handed.add(row.id)

    def accepted(self, outgoing: _Outgoing, reply) -> None:
        self._accepted.append(Accepted(outgoing.row.id, reply.code, reply.reply, utcnow(),
                                       outgoing.subject, outgoing.message_id))
        if time.monotonic() - self._written_at > STATUS_EVERY_S:
            self.write()

    def write(self) -> None:
        # What the journal already holds stays there: settling skips rows no longer leased.
        _mark_sent(self.agency_id, self.owner, self._accepted)
        db.session.commit()
        self._accepted, self._journaled = [], 0
        self._written_at = time.monotonic()


_TABLE = OutboxEmail.__table__
# Built once: a statement built for each batch had its cache key computed over again every time,
# more CPU than executing it. Only rows still leased to the batch: one that outlived its lease
# was settled by another worker from the same journal, with the same outcome.
_MARK_SENT = (_TABLE.update()
              .where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.agency_id == bindparam("agency"),
                     _TABLE.c.lease_owner == bindparam("owner"), _TABLE.c.status == "sending")
              .values(attempts=_TABLE.c.attempts + 1))


def _mark_sent(agency_id: int, owner: str, accepted: list[Accepted]) -> None:
    if not accepted:
        return
    db.session.execute(_MARK_SENT, [
        {"row_id": a.row_id, "agency": agency_id, "owner": owner, "status": "sent",
         "status_reason": "", "last_code": a.code, "last_reply": a.reply, "hint_code": None,
         "sent_at": a.sent_at, "updated_at": a.sent_at, "subject": a.subject,
         "message_id": a.message_id, "lease_owner": None, "lease_until": None}
        for a in accepted])


def _prepare(row: OutboxEmail, settings, templates: dict, report: SendReport) -> _Outgoing | None:
    now = utcnow()
    if row.expires_at and now >= row.expires_at:
        _finish(row, "failed", reason=reasons.TOO_LATE)
        report.failed += 1
        return None
    if not row.to_address:
        _finish(row, "skipped", reason=reasons.NO_RECIPIENT)
        report.skipped += 1
        return None
    try:
        rendered = _template(templates, row).render(row.context)
    except TemplateBroken:
        # A template that compiles, broken by this email's data (a control character bound for
        # the subject, a value it cannot use): failed, so the admin sees it and can resend.
        _finish(row, "failed", reason=reasons.TEMPLATE_FAILED)
        report.failed += 1
        return None
    except TemplateMissing:
        _finish(row, "skipped", reason=reasons.NO_TEMPLATE)
        report.skipped += 1
        return None
    try:
        message = compose_message(settings, row.to_address, rendered.subject, rendered.text,
                                  rendered.html)
    except UnsafeHeader:
        _finish(row, "failed", reason=reasons.UNSAFE_HEADER)
        report.failed += 1
        return None
    except (ValueError, UnicodeError):
        # An address no encoding can carry (e.g. an invalid IDN label): this row can never
        # go, and must not stop the rows behind it.
        _finish(row, "failed", reason=reasons.INVALID_ADDRESS)
        report.failed += 1
        return None
    return _Outgoing(row, message, rendered.subject[:500])


def _template(templates: dict, row: OutboxEmail) -> AgencyTemplate:
    """The row's template, loaded once a batch (one query, not one a row); TemplateMissing if none."""
    key = (row.kind, row.language)
    if key not in templates:
        try:
            templates[key] = load_template(row.agency_id, row.kind, row.language)
        except TemplateMissing:
            templates[key] = None
    if templates[key] is None:
        raise TemplateMissing(f"no usable {row.kind} template in {row.language!r}")
    return templates[key]


def _envelope(outgoing: _Outgoing, message: EmailMessage, settings, copies: str) -> Envelope:
    to_address = outgoing.row.to_address
    # Copies (S9) are an extra envelope recipient: the client's headers never show them. The
    # agency address's own notifications (S14) are not copied: they are the agency's mail.
    if outgoing.row.kind in AGENCY_KINDS:
        copies = ""
    recipients = (to_address,) + ((copies,) if copies and copies != to_address else ())
    return Envelope(message, envelope_sender(settings), recipients)


class _Envelopes:
    """Each row's envelope, built when first needed (to send it, or to announce it before) and
    dropped once sent: a batch holds the documents (S15) of two messages at most, not of a
    hundred. The announced envelope must be the very one sent next, hence the cache."""

    def __init__(self, ready: list[_Outgoing], settings, copies: str, documented: set[int]):
        self._ready, self._settings, self._copies = ready, settings, copies
        self._documented = documented
        self._built: dict[int, Envelope] = {}

    def __getitem__(self, index: int) -> Envelope:
        if index not in self._built:
            outgoing = self._ready[index]
            message = outgoing.message
            if outgoing.row.id in self._documented:
                message = with_documents(message, documents_of(outgoing.row.id))
            self._built[index] = _envelope(outgoing, message, self._settings, self._copies)
        return self._built[index]

    def forget(self, index: int) -> None:
        self._built.pop(index, None)


def _send_one(session: SmtpSession, outgoing: _Outgoing, envelope: Envelope,
              following: Envelope | None, report: SendReport, delivery: _Delivery) -> bool:
    """Send one row (announcing the following one to the server) and record the outcome; False
    when the connection is unusable."""
    row = outgoing.row
    delivery.handing(row)
    try:
        reply = session.send(envelope, then=following)
    except SmtpError as error:
        outgoing.note_on_row()
        return _send_failed(row, error, report)
    except (ValueError, UnicodeError):
        # An address with a line break, or one only SMTPUTF8 could carry: refused before
        # anything of it was written, and no retry can change that.
        outgoing.note_on_row()
        _finish(row, "failed", reason=reasons.INVALID_ADDRESS)
        report.failed += 1
        return session.is_open
    # A refused copies address (reply.refused) does not hold back the client's email.
    delivery.accepted(outgoing, reply)
    report.sent += 1
    if report.recovering:
        # Committed with the batch's sent rows.
        db.session.execute(delete(SendingPause).where(SendingPause.agency_id == row.agency_id,
                                                      SendingPause.state == "failing"))
        report.recovering = False
    return True


def _send_failed(row: OutboxEmail, error: SmtpError, report: SendReport) -> bool:
    if error.message_sent and error.code is None:
        # The server may have delivered it: mark unknown and resend once, later (RFC 1047).
        row.attempts += 1
        _record_reply(row, error)
        _unknown(row, reasons.CONNECTION_LOST_AFTER_DATA, utcnow() + UNKNOWN_RESEND_AFTER)
        report.unknown += 1
        return False
    if decision(error) == "pause":
        _settings_failed(row.agency_id, [row], error, report)
        return False
    _retry_or_fail(row, error.code, error.reply, error.hint.code, temporary=error.temporary,
                   report=report)
    return error.code is not None  # no reply code: the connection is gone


def _connection_failed(agency_id: int, rows: list[OutboxEmail], error: SmtpError,
                       report: SendReport) -> None:
    if decision(error) == "pause":
        _settings_failed(agency_id, rows, error, report)
        return
    for row in rows:
        _retry_or_fail(row, error.code, error.reply, error.hint.code,
                       temporary=error.temporary, report=report)
    db.session.commit()


def decision(error: SmtpError) -> str:
    """What sending does after a failure, by the classifier's hint, as the test page announces it:
    "retry" this email later, "fail" it for good, or "pause" (through the failing state) because
    every email would fail the same way."""
    # A 4xx is trouble the server expects to pass (RFC 5321 4.2.1): each email retries on its
    # own backoff, and sending never pauses for it.
    if error.code is not None and 400 <= error.code < 500:
        return "retry"
    # Before MAIL FROM nothing is about one email: a permanent refusal there (a blocklisted
    # greeting, a TLS failure) would fail every email of the agency, so it pauses instead.
    if error.hint.pausing or (error.step in SESSION_STEPS and not error.temporary):
        return "pause"
    return "retry" if error.temporary else "fail"


def repeats_for_every_email(error: SmtpError) -> bool:
    return decision(error) == "pause"


def _settings_failed(agency_id: int, rows: list[OutboxEmail], error: SmtpError,
                     report: SendReport) -> None:
    """A failure every email would repeat: the first one holds the rows until the confirming
    attempt; a second one, that late or later, pauses sending."""
    now = utcnow()
    for row in rows:
        _record_reply(row, error)
    if record_failure(agency_id, error.hint.code, error.reply, rows=rows, now=now) == "paused":
        report.paused = True
    else:
        report.failing = True


def _retry_or_fail(row: OutboxEmail, code, reply: str, hint_code: str, *, temporary: bool,
                   report: SendReport) -> None:
    row.attempts += 1
    row.last_code, row.last_reply, row.hint_code = code, reply or "", hint_code
    now = utcnow()
    if not temporary:
        _finish(row, "failed", reason=reasons.REFUSED)
        report.failed += 1
        return
    retry_at = now + backoff(row.attempts)
    too_late = row.expires_at is not None and retry_at >= row.expires_at
    if retry_at - row.created_at > GIVE_UP_AFTER or too_late:
        _finish(row, "failed", reason=reasons.GAVE_UP)
        report.failed += 1
        return
    row.status, row.status_reason = "queued", reasons.WILL_RETRY
    row.next_attempt_at = retry_at
    row.lease_owner = row.lease_until = None
    report.retrying += 1


def backoff(attempts: int) -> timedelta:
    """60 s doubling up to an hour, with ±20 % jitter so a recovering server is not hit at once."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return base * random.uniform(0.8, 1.2)


def _record_reply(row: OutboxEmail, error: SmtpError) -> None:
    row.last_code, row.last_reply, row.hint_code = error.code, error.reply or "", error.hint.code


def _finish(row: OutboxEmail, status: str, reason: str = "") -> None:
    row.status, row.status_reason = status, reason
    row.lease_owner = row.lease_until = None


def _unknown(row: OutboxEmail, reason: str, resend_at: datetime) -> None:
    row.status, row.status_reason = "unknown", reason
    row.next_attempt_at = resend_at
    row.lease_owner = row.lease_until = None


def _release(rows: list[OutboxEmail]) -> None:
    """Give rows back untouched (they were never handed to the server), with the caller's
    next commit."""
    for row in rows:
        row.status, row.lease_owner, row.lease_until = "queued", None, None


def settle_abandoned(agency_id: int, *, now: datetime) -> None:
    """Rows of a worker that died mid-batch, once their lease ran out: sent if its journal says
    the server accepted them, queued again if it never got to them. The one that was with the
    server may have arrived, or not: it is sent again after UNKNOWN_RESEND_AFTER (a possible
    duplicate, never a loss), and so is the whole batch when Redis lost its journal.

    Every write is guarded by the dead batch's lease, so two workers settling it at once, or
    one settling it while another claims the rows, change each row once."""
    owners = db.session.execute(
        select(OutboxEmail.lease_owner).where(OutboxEmail.agency_id == agency_id,
                                              abandoned_condition(now)).distinct()).scalars().all()
    for owner in owners:
        record = journal.read(owner)
        _mark_sent(agency_id, owner, list(record.accepted.values()))
        requeue = (update(OutboxEmail)
                   .where(OutboxEmail.agency_id == agency_id, OutboxEmail.lease_owner == owner,
                          abandoned_condition(now))
                   .values(status="queued", lease_owner=None, lease_until=None, updated_at=now)
                   .execution_options(synchronize_session=False))
        later = dict(next_attempt_at=now + UNKNOWN_RESEND_AFTER)
        if not record.found:
            db.session.execute(requeue.values(**later, status_reason=reasons.WORKER_LOST_RECORD))
        else:
            if record.in_flight:
                db.session.execute(requeue.where(OutboxEmail.id.in_(record.in_flight))
                                   .values(**later, attempts=OutboxEmail.attempts + 1,
                                           status_reason=reasons.WORKER_LOST_IN_FLIGHT))
            db.session.execute(requeue)
        db.session.commit()
        journal.discard(owner)


def current_pause(agency_id: int) -> SendingPause | None:
    """The agency's sending pause, if sending is paused: what the sender, the settings page and
    the troubleshooting checks all ask."""
    failure = current_failure(agency_id)
    return failure if failure is not None and failure.state == "paused" else None


def current_failure(agency_id: int) -> SendingPause | None:
    """The agency's failing (waiting for the confirming attempt) or paused state, if any."""
    return db.session.execute(_FAILURE_OF_AGENCY, {"agency_id": agency_id}).scalar_one_or_none()


# Built once: every page of a signed-in user asks it, for the banner.
_FAILURE_OF_AGENCY = select(SendingPause).where(SendingPause.agency_id == bindparam("agency_id"))


def record_failure(agency_id: int, hint_code: str | None, reply: str, *,
                   rows: list[OutboxEmail] = (), now: datetime | None = None) -> str:
    """A failure every email would repeat; returns the agency's state after it, "failing" or
    "paused". The first one marks the agency failing, its rows held until the confirming attempt
    CONFIRM_AFTER later; a failure at or after that moment pauses. Failures of batches already
    under way before the first was recorded change nothing. Commits, with the rows given back."""
    now = now or utcnow()
    retry_at = now + CONFIRM_AFTER
    _insert_state(agency_id, state="failing", hint_code=hint_code, reply=reply or "",
                  paused_at=now, retry_at=retry_at)
    paused = _to_paused(agency_id, hint_code, reply, now,
                        SendingPause.state == "failing", SendingPause.retry_at <= now)
    failure = db.session.execute(select(SendingPause).filter_by(agency_id=agency_id)
                                 .execution_options(populate_existing=True)).scalar_one()
    for row in rows:
        row.status, row.lease_owner, row.lease_until = "queued", None, None
        if failure.state == "failing":
            # Waits for the confirming attempt (the sweep wakes the agency then).
            row.status_reason, row.next_attempt_at = reasons.SETTINGS_FAILING, failure.retry_at
        else:
            row.status_reason = reasons.SENDING_PAUSED
    db.session.commit()
    if paused:
        _paused_now(agency_id)
    return failure.state


def pause(agency_id: int, hint_code: str | None, reply: str) -> bool:
    """Pause the agency at once (its settings are incomplete or cannot be read); two workers
    pausing it at once make one pause. True if this call paused it."""
    now = utcnow()
    inserted = _insert_state(agency_id, state="paused", hint_code=hint_code, reply=reply or "",
                             paused_at=now, retry_at=now + PROBE_BACKOFF[0])
    paused = inserted or _to_paused(agency_id, hint_code, reply, now, SendingPause.state == "failing")
    db.session.commit()
    if paused:
        _paused_now(agency_id)
    return paused


def _insert_state(agency_id: int, **values) -> bool:
    # INSERT ... ON CONFLICT DO NOTHING: two workers failing at once make one row.
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return db.session.execute(
        dialect.insert(SendingPause).values(agency_id=agency_id, probes=0, **values)
        .on_conflict_do_nothing(index_elements=["agency_id"])
        .returning(SendingPause.id)).first() is not None


def _to_paused(agency_id: int, hint_code, reply, now: datetime, *conditions) -> bool:
    return db.session.execute(
        update(SendingPause).where(SendingPause.agency_id == agency_id, *conditions)
        .values(state="paused", hint_code=hint_code, reply=reply or "", paused_at=now,
                retry_at=now + PROBE_BACKOFF[0], probes=0)
        .execution_options(synchronize_session=False)).rowcount == 1


def _paused_now(agency_id: int) -> None:
    """Sending has just paused: the operator channel, if there is one, tells the admins."""
    if current_app.config.get("OPERATOR_SMTP") is None:
        return
    from rq import Retry

    from webapp.jobs import DEFAULT_QUEUE, get_queue, tell_admins_of_pause
    get_queue(DEFAULT_QUEUE).enqueue(tell_admins_of_pause, agency_id, result_ttl=0,
                                     failure_ttl=86400, retry=Retry(max=3, interval=[60, 300, 900]))


def resume(agency_id: int) -> bool:
    """Lift a pause or a failing state (a test email or a probe just succeeded) and send what
    waited, the rows held for the confirming attempt at once; True if one was lifted."""
    lifted = db.session.execute(delete(SendingPause).where(SendingPause.agency_id == agency_id)
                                .execution_options(synchronize_session=False)).rowcount
    if not lifted:
        db.session.rollback()
        return False
    now = utcnow()
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.agency_id == agency_id, OutboxEmail.status == "queued",
               OutboxEmail.status_reason == reasons.SETTINGS_FAILING,
               OutboxEmail.next_attempt_at > now)
        .values(next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    wake(agency_id)
    return True
