"""Bounces as the domain sees them: the incoming mailbox's settings, the check, the periodic
reading of new messages, and what the email log and the troubleshooting page show of them."""

from __future__ import annotations

import imaplib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp import mail_secrets
from webapp.bounces import dsn, reasons
from webapp.bounces.hints import code_for
from webapp.bounces.imap import ImapSettings, ImapStep, MailboxError, MailboxSession
from webapp.bounces.presets import imap_for_smtp_host
from webapp.extensions import db
from webapp.jobs import redis_connection
from webapp.models import Agency, Bounce, IncomingMailSettings, MailSettings, OutboxEmail
from webapp.models.types import utcnow

logger = logging.getLogger(__name__)

SETTING_NAMES = ("enabled", "host", "port", "security", "login", "after_reading", "move_folder")
# How far back a first reading (or one after a UIDVALIDITY change) looks: the email log's horizon.
LOOK_BACK = timedelta(days=30)
DEFAULT_MAX_MESSAGES = 200
DEFAULT_MAX_SECONDS = 60


class IncomingNotConfigured(LookupError):
    """Reading bounces is off, or the mailbox has no server, port or password."""


@dataclass(frozen=True)
class IncomingView:
    """What the page may show: every incoming setting except the password, which is only "set" or not."""

    enabled: bool
    host: str
    port: int | None
    security: str
    login: str
    after_reading: str
    move_folder: str
    password_set: bool
    smtp_password_usable: bool  # no incoming password, but the SMTP one is for the same login
    last_checked_at: datetime | None
    last_error: str

    def values(self) -> dict:
        return {name: getattr(self, name) for name in SETTING_NAMES}


def _row(agency_id: int) -> IncomingMailSettings:
    row = db.session.execute(select(IncomingMailSettings).where(
        IncomingMailSettings.agency_id == agency_id)).scalar_one_or_none()
    if row is None:
        row = IncomingMailSettings(agency_id=agency_id, enabled=False, host="", security="tls", login="",
                                   after_reading="keep", move_folder="", last_uid=0, last_error="")
        db.session.add(row)
        db.session.flush()
    return row


def _smtp_row(agency_id: int) -> MailSettings | None:
    return db.session.execute(select(MailSettings).where(MailSettings.agency_id == agency_id)).scalar_one_or_none()


def incoming_view(agency: Agency) -> IncomingView:
    """The saved settings; never saved ones come prefilled from the SMTP preset and login."""
    row = _row(agency.id)
    smtp = _smtp_row(agency.id)
    host, port, security, login = row.host, row.port, row.security, row.login
    if not host and smtp is not None:
        preset = imap_for_smtp_host(smtp.host)
        if preset:
            host, port, security = preset
        login = login or smtp.login
    smtp_usable = (not row.password_encrypted and smtp is not None and bool(smtp.password_encrypted)
                   and bool(login) and login.strip().lower() == (smtp.login or "").strip().lower())
    return IncomingView(enabled=row.enabled, host=host, port=port, security=security, login=login,
                        after_reading=row.after_reading, move_folder=row.move_folder,
                        password_set=bool(row.password_encrypted), smtp_password_usable=smtp_usable,
                        last_checked_at=row.last_checked_at, last_error=row.last_error)


def save_incoming(agency: Agency, values: dict, *, new_password: str | None = None,
                  remove_password: bool = False) -> list[str]:
    """Apply validated values; returns the names of the fields that changed."""
    row = _row(agency.id)
    changed = [name for name in SETTING_NAMES if getattr(row, name) != values[name]]
    if any(name in changed for name in ("host", "login")):
        # Another mailbox: its UIDs mean nothing for the old one (RFC 3501 2.3.1.1).
        row.uidvalidity, row.last_uid = None, 0
    for name in changed:
        setattr(row, name, values[name])
    if new_password:
        row.password_encrypted = mail_secrets.encrypt(new_password)
        changed.append("password")
    elif remove_password and row.password_encrypted:
        row.password_encrypted = None
        changed.append("password")
    db.session.commit()
    return changed


def imap_settings_for(agency_id: int, *, require_enabled: bool = True) -> ImapSettings:
    """How the job and the check reach the mailbox: the only place its password is decrypted.
    Without an incoming password, the SMTP password of the same login (one app password for both)."""
    row = _row(agency_id)
    if require_enabled and not row.enabled:
        raise IncomingNotConfigured("reading bounces is off")
    if not row.host or not row.port:
        raise IncomingNotConfigured("no IMAP server")
    password = ""
    if row.password_encrypted:
        password = mail_secrets.decrypt(row.password_encrypted)
    else:
        smtp = _smtp_row(agency_id)
        if smtp is not None and smtp.password_encrypted and (smtp.login or "").lower() == row.login.lower():
            password = mail_secrets.decrypt(smtp.password_encrypted)
    if not password:
        raise IncomingNotConfigured("no password")
    config = current_app.config
    return ImapSettings(host=row.host, port=row.port, security=row.security, login=row.login,
                        password=password, ca_file=config.get("MAIL_CA_FILE"),
                        allow_private=bool(config.get("MAIL_ALLOW_PRIVATE_HOSTS")),
                        timeout=float(config.get("BOUNCES_IMAP_TIMEOUT", 15)))


@dataclass
class CheckResult:
    steps: list[ImapStep]
    ok: bool
    hint_code: str | None = None
    reply: str = ""


class CheckRefused(Exception):
    """Too many mailbox checks in the last hour."""


def check_mailbox(agency_id: int, on_step=None) -> CheckResult:
    """The "check the mailbox" button: resolve, connect, TLS, login, select INBOX; nothing read."""
    try:
        settings = imap_settings_for(agency_id, require_enabled=False)
    except IncomingNotConfigured as exc:
        return CheckResult([], False, "imap_no_password" if "password" in str(exc) else "imap_not_configured",
                           "")
    except mail_secrets.MailSecretError:
        return CheckResult([], False, "imap_no_password", "")
    session = MailboxSession(settings, on_step=on_step)
    try:
        session.open()
        return CheckResult(session.steps, True)
    except MailboxError as exc:
        return CheckResult(session.steps, False, exc.hint_code, exc.reply)
    finally:
        session.close()


CHECKS_PER_HOUR = 20


def start_check(agency_id: int) -> str:
    """Queue a check whose steps stream to the page; returns its id. At most CHECKS_PER_HOUR an
    hour per agency: each one logs in at the provider, which counts failed logins."""
    connection = redis_connection()
    counter = f"mailboxcheck:count:{agency_id}"
    if connection.incr(counter) > CHECKS_PER_HOUR:
        raise CheckRefused()
    connection.expire(counter, 3600, nx=True)
    check_id = secrets.token_hex(16)
    connection.set(check_owner_key(check_id), agency_id, ex=3600)
    from webapp.jobs import MAIL_QUEUE, get_queue
    from webapp.jobs import run_mailbox_check
    get_queue(MAIL_QUEUE).enqueue(run_mailbox_check, agency_id, check_id, job_id=f"mailboxcheck-{check_id}",
                                  job_timeout=300, result_ttl=0, failure_ttl=3600)
    return check_id


def check_owner_key(check_id: str) -> str:
    return f"mailboxcheck:{check_id}:agency"


def check_events_key(check_id: str) -> str:
    return f"mailboxcheck:{check_id}"


def check_belongs_to(check_id: str, agency_id: int) -> bool:
    owner = redis_connection().get(check_owner_key(check_id))
    return owner is not None and int(owner) == agency_id


def execute_check(agency_id: int, check_id: str) -> CheckResult:
    """The job's work: each step published as it happens, then the result and "done"."""
    from webapp.event_streams import publish
    key = check_events_key(check_id)
    result = check_mailbox(agency_id, on_step=lambda step: publish(key, "step", step.as_dict()))
    publish(key, "result", {"ok": result.ok, "hint_code": result.hint_code, "reply": result.reply})
    publish(key, "done", {})
    return result


@dataclass
class ReadingResult:
    """What one run of the job did with the agency's mailbox."""

    read: int = 0
    bounces: int = 0
    auto_replies: int = 0
    unmatched: int = 0
    left: int = 0  # new messages left for the next run (limits)
    skipped: str = ""  # why nothing was read: off, busy, or a hint code
    recorded: list[int] = field(default_factory=list)  # Bounce ids


def read_bounces(agency_id: int, *, max_messages: int | None = None,
                 max_seconds: float | None = None) -> ReadingResult:
    """Read the mailbox's new messages since the last seen UID and record each bounce once.

    One run per agency at a time (a Redis lock); a second run, or one that loses a race anyway,
    records nothing twice (the unique (outbox_email_id, recipient) of a bounce)."""
    config = current_app.config
    max_messages = max_messages or int(config.get("BOUNCES_MAX_MESSAGES", DEFAULT_MAX_MESSAGES))
    max_seconds = max_seconds or float(config.get("BOUNCES_MAX_SECONDS", DEFAULT_MAX_SECONDS))
    try:
        settings = imap_settings_for(agency_id)
    except (IncomingNotConfigured, mail_secrets.MailSecretError) as exc:
        return ReadingResult(skipped=f"off: {exc}")
    lock = redis_connection().lock(f"bounces:reading:{agency_id}", timeout=int(max_seconds) + 120,
                                   blocking=False)
    if not lock.acquire():
        return ReadingResult(skipped="busy")
    try:
        return _read(agency_id, settings, max_messages, max_seconds)
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - the lock expired during a very slow run: nothing to free
            pass


def _read(agency_id: int, settings: ImapSettings, max_messages: int, max_seconds: float) -> ReadingResult:
    deadline = time.monotonic() + max_seconds
    row = _row(agency_id)
    result = ReadingResult()
    session = MailboxSession(settings)
    try:
        session.open()
        if row.uidvalidity != session.uidvalidity:
            # A new mailbox, or the server renumbered it: UIDs start again (RFC 3501 2.3.1.1).
            row.uidvalidity, row.last_uid = session.uidvalidity, 0
        uids = session.new_uids(row.last_uid, (utcnow() - LOOK_BACK).date())
        result.left = max(len(uids) - max_messages, 0)
        writable = False
        for index, uid in enumerate(uids[:max_messages]):
            if time.monotonic() > deadline:
                result.left = len(uids) - index
                break
            report = _read_report(uid, session.fetch(uid))
            result.read += 1
            if report.kind == dsn.AUTO_REPLY:
                result.auto_replies += 1
            elif report.kind == dsn.BOUNCE:
                recorded = _record(agency_id, report)
                if recorded is None:
                    result.unmatched += 1
                else:
                    result.bounces += len(recorded)
                    result.recorded += recorded
                    if row.after_reading != "keep":
                        if not writable:
                            session.reopen_writable()
                            writable = True
                        if row.after_reading == "move" and row.move_folder:
                            session.move(uid, row.move_folder)
                        else:
                            session.mark_seen(uid)
            row.last_uid = uid
            db.session.commit()  # progress survives a crash mid-run
        row.last_checked_at, row.last_error = utcnow(), ""
    except (MailboxError, OSError, imaplib.IMAP4.error) as exc:
        # The connection broke mid-run (timeout, reset, the server hung up): what was read is
        # committed; the next run goes on from the last UID.
        code = exc.hint_code if isinstance(exc, MailboxError) else code_for("fetch", exc)
        db.session.rollback()
        row = _row(agency_id)
        row.last_checked_at, row.last_error = utcnow(), code
        result.skipped = code
    finally:
        session.close()
        db.session.commit()
    return result


def _read_report(uid: int, raw: bytes) -> dsn.Report:
    """A message the parser cannot read is mail, not a bounce: it must not stop every later run
    at the same UID."""
    try:
        return dsn.read_report(raw)
    except Exception:  # noqa: BLE001 - any parser failure on a stranger's message
        logger.exception("could not read message UID %s of an incoming mailbox", uid)
        return dsn.Report(dsn.OTHER)


def _record(agency_id: int, report: dsn.Report) -> list[int] | None:
    """Match the report to the sent email and record its failed recipients; None if no email matches."""
    outbox_row = _matching_email(agency_id, report)
    if outbox_row is None:
        return None
    recorded = []
    for failed in report.recipients:
        recipient = (failed.address or outbox_row.to_address).strip().lower()
        reason = reasons.classify(failed.status, failed.diagnostic)
        bounce = Bounce(agency_id=agency_id, outbox_email_id=outbox_row.id, recipient=recipient,
                        status=failed.status[:16], diagnostic=failed.diagnostic, reason=reason,
                        permanent=failed.permanent, report_format=report.report_format)
        db.session.commit()  # what came before stays, whatever this insert meets
        db.session.add(bounce)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue  # already recorded by an earlier or a concurrent run
        recorded.append(bounce.id)
        if recipient == outbox_row.to_address.strip().lower():
            db.session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == outbox_row.id, OutboxEmail.status.in_(("sent", "unknown")))
                # The reason is the bounce's own (the email log shows it); the reply without its code.
                .values(status="bounced", status_reason="", last_code=_reply_code(failed.diagnostic),
                        last_reply=_reply_text(failed.diagnostic), hint_code=None)
                .execution_options(synchronize_session=False))
    return recorded


def _reply_text(diagnostic: str) -> str:
    return re.sub(r"^[245]\d\d[ -]", "", diagnostic) if _reply_code(diagnostic) else diagnostic


def _reply_code(diagnostic: str) -> int | None:
    head = diagnostic[:3]
    return int(head) if head.isdigit() and head[0] in "245" else None


def _matching_email(agency_id: int, report: dsn.Report) -> OutboxEmail | None:
    """By the returned message's Message-ID first; else by its To and Subject among sent emails."""
    if report.message_ids:
        # Message-IDs are unique (RFC 5322 3.6.4): no order needed, any match is the email.
        found = db.session.execute(
            select(OutboxEmail).where(OutboxEmail.agency_id == agency_id,
                                      OutboxEmail.message_id.in_(report.message_ids))
            .limit(1)).scalar_one_or_none()
        if found is not None:
            return found
    addresses = [r.address for r in report.recipients if r.address]
    if not addresses or not report.original_subject:
        return None
    return db.session.execute(
        select(OutboxEmail).where(OutboxEmail.agency_id == agency_id,
                                  func.lower(OutboxEmail.to_address).in_(addresses),
                                  OutboxEmail.subject == report.original_subject,
                                  OutboxEmail.status.in_(("sent", "unknown", "bounced")),
                                  OutboxEmail.created_at >= utcnow() - LOOK_BACK)
        .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc()).limit(1)).scalar_one_or_none()


def rotate_passwords() -> tuple[int, list[str]]:
    """Re-encrypt stored IMAP passwords under the first MAIL_SECRET_KEYS key (`flask mail
    rotate-keys`); returns how many, and the slugs (" (IMAP)") of those no key decrypts."""
    rotated, unreadable = 0, []
    rows = db.session.execute(select(IncomingMailSettings).where(
        IncomingMailSettings.password_encrypted.is_not(None))).scalars().all()
    for row in rows:
        try:
            row.password_encrypted = mail_secrets.rotate(row.password_encrypted)
            rotated += 1
        except mail_secrets.MailSecretError:
            unreadable.append(f"{db.session.get(Agency, row.agency_id).slug} (IMAP)")
    db.session.commit()
    return rotated, unreadable


def agencies_reading_bounces() -> list[int]:
    return list(db.session.execute(
        select(IncomingMailSettings.agency_id).where(IncomingMailSettings.enabled.is_(True))).scalars())


# --- what pages show ---------------------------------------------------------------------------

BAD_ADDRESS_REASONS = tuple(code for code, reason in reasons.CATALOGUE.items() if reason.address_is_bad)


@dataclass(frozen=True)
class LogNotes:
    """For one page of the email log: the bounce of each bounced row, and the addresses that
    bounced permanently before (with when), so later emails to them carry a warning."""

    bounces: dict  # outbox_email_id -> Bounce
    flagged: dict  # lower-case address -> first permanent bounce time

    def bounce_of(self, row):
        return self.bounces.get(row.id)

    def warning_for(self, row) -> bool:
        since = self.flagged.get((row.to_address or "").strip().lower())
        return since is not None and row.created_at > since and row.id not in self.bounces


def log_notes(agency_id: int, rows) -> LogNotes:
    rows = list(rows)
    if not rows:
        return LogNotes({}, {})
    bounced_ids = [row.id for row in rows if row.status == "bounced"]
    bounces = {}
    if bounced_ids:
        for bounce in db.session.execute(
                select(Bounce).where(Bounce.agency_id == agency_id, Bounce.outbox_email_id.in_(bounced_ids))
                .order_by(Bounce.id)).scalars():
            bounces.setdefault(bounce.outbox_email_id, bounce)
    addresses = list({(row.to_address or "").strip().lower() for row in rows if row.to_address})
    flagged = dict(db.session.execute(
        select(Bounce.recipient, func.min(Bounce.created_at))
        .where(Bounce.agency_id == agency_id, Bounce.recipient.in_(addresses), Bounce.permanent.is_(True),
               Bounce.reason.in_(BAD_ADDRESS_REASONS))
        .group_by(Bounce.recipient)).all()) if addresses else {}
    # SQLite returns min() of a UTC column as a naive value or text: make it comparable.
    flagged = {address: _aware(value) for address, value in flagged.items()}
    return LogNotes(bounces, flagged)


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ReasonCount:
    code: str
    count: int
    title: str
    fix: str
    who: str


def bounces_by_reason(agency_id: int, now: datetime | None = None) -> list[ReasonCount]:
    """Bounces of the last 30 days by reason, the most frequent first."""
    since = (now or utcnow()) - timedelta(days=30)
    rows = db.session.execute(
        select(Bounce.reason, func.count(Bounce.id))
        .where(Bounce.agency_id == agency_id, Bounce.created_at >= since)
        .group_by(Bounce.reason).order_by(func.count(Bounce.id).desc(), Bounce.reason)).all()
    result = []
    for code, count in rows:
        reason = reasons.reason_for(code)
        result.append(ReasonCount(code, count, str(reason.title), str(reason.fix), str(reasons.WHO_TITLES[reason.who])))
    return result


def queue_readings() -> int:
    """What `rq cron` runs: one reading job per agency that reads bounces, never two queued at once."""
    from rq.exceptions import DuplicateJobError

    from webapp.jobs import DEFAULT_QUEUE, get_queue
    from webapp.jobs import read_bounces as read_job
    queue, queued = get_queue(DEFAULT_QUEUE), 0
    timeout = int(current_app.config.get("BOUNCES_MAX_SECONDS", DEFAULT_MAX_SECONDS)) + 120
    for agency_id in agencies_reading_bounces():
        try:
            queue.enqueue(read_job, agency_id, job_id=f"bounces-{agency_id}", unique=True,
                          job_timeout=timeout, result_ttl=0, failure_ttl=3600)
            queued += 1
        except DuplicateJobError:
            pass  # the previous reading is still queued or running
    return queued
