"""The probe of a paused agency's settings (connect, TLS, AUTH, MAIL FROM, no message): on a backoff from the
scheduler's tick, and at once when the connection settings are saved; its success resumes sending."""
import logging
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select, update

from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, get_queue
from webapp.mail_secrets import MailSecretError
from webapp.mailsettings.service import MailNotConfigured, smtp_settings_for
from webapp.models import SendingPause
from webapp.models.types import utcnow
from webapp.outbox.sender import (CONFIRM_AFTER, PROBE_BACKOFF, current_failure, record_failure,
                                  repeats_for_every_email, resume)
from webapp.smtpcheck.connection import SmtpError, open_session
from webapp.smtpcheck.message import envelope_sender

log = logging.getLogger(__name__)

# Settings a probe can tell about: a save that changes one of them probes at once.
CONNECTION_FIELDS = frozenset({"host", "port", "security", "login", "password"})
# A probe waits out a few SMTP timeouts at most (resolve, connect, TLS, greeting, AUTH).
PROBE_JOB_TIMEOUT = 300


def probe_paused(now: datetime) -> int:
    """The tick's rule: queue a probe for each paused agency whose next probe is due, and move
    that moment along the backoff; also for a failing agency whose confirming attempt never came
    (nothing was left to send), so it does not show as failing for ever. Returns how many were
    queued.

    Claimed with a compare-and-set on the moment read, so two ticks at once queue one probe."""
    due = db.session.execute(
        select(SendingPause.agency_id, SendingPause.state, SendingPause.retry_at,
               SendingPause.probes)
        .where(or_(and_(SendingPause.state == "paused",
                        # A pause from before probes existed has no moment: probe it now.
                        or_(SendingPause.retry_at.is_(None), SendingPause.retry_at <= now)),
                   and_(SendingPause.state == "failing",
                        SendingPause.retry_at <= now - CONFIRM_AFTER)))).all()
    claimed = []
    for agency_id, state, retry_at, probes in due:
        # A failing agency is probed again CONFIRM_AFTER from now if this probe changes nothing
        # (a 4xx): from its old moment that would stay in the past and probe it every tick.
        next_at = now + PROBE_BACKOFF[min(probes + 1, len(PROBE_BACKOFF) - 1)] \
            if state == "paused" else now
        if db.session.execute(
                update(SendingPause)
                .where(SendingPause.agency_id == agency_id, SendingPause.state == state,
                       SendingPause.retry_at.is_(None) if retry_at is None
                       else SendingPause.retry_at == retry_at)
                .values(retry_at=next_at, probes=probes + 1)
                .execution_options(synchronize_session=False)).rowcount:
            claimed.append(agency_id)
    db.session.commit()
    for agency_id in claimed:
        _queue_probe(agency_id)
    return len(claimed)


def probe_after_save(agency_id: int, changed: list[str]) -> bool:
    """Called after the settings are saved: if sending is failing or paused and the save changed
    how the server is reached, probe now. True if a probe was queued."""
    if not CONNECTION_FIELDS.intersection(changed) or current_failure(agency_id) is None:
        return False
    # New settings start the backoff over.
    db.session.execute(update(SendingPause).where(SendingPause.agency_id == agency_id,
                                                  SendingPause.state == "paused")
                       .values(retry_at=utcnow() + PROBE_BACKOFF[0], probes=0))
    db.session.commit()
    try:
        _queue_probe(agency_id)
    except RedisError:
        # The settings are saved; the tick's probe tries them within PROBE_BACKOFF[0].
        log.warning("could not queue the probe of agency %s's new settings", agency_id, exc_info=True)
        return False
    return True


def _queue_probe(agency_id: int) -> None:
    from webapp.jobs import probe_sending
    get_queue(MAIL_QUEUE).enqueue(probe_sending, agency_id, job_timeout=PROBE_JOB_TIMEOUT,
                                  result_ttl=0, failure_ttl=86400)


def probe(agency_id: int) -> bool:
    """Connect, encrypt, log in and name the sender with the agency's saved settings, send
    nothing, and QUIT;
    resume sending if that works, else keep the server's answer as the reason. True if resumed.
    Running it twice changes nothing the second time."""
    failure = current_failure(agency_id)
    if failure is None:
        return False
    try:
        settings = smtp_settings_for(agency_id)
    except (MailNotConfigured, MailSecretError):
        return False  # still incomplete: the pause's reason already says so
    try:
        with open_session(settings) as session:
            session.try_sender(envelope_sender(settings))
    except SmtpError as error:
        if failure.state == "failing" and (repeats_for_every_email(error) or not error.temporary):
            record_failure(agency_id, error.hint.code, error.reply)  # confirmed: pauses
        else:
            db.session.execute(update(SendingPause).where(SendingPause.agency_id == agency_id)
                               .values(hint_code=error.hint.code, reply=error.reply or ""))
            db.session.commit()
        return False
    return resume(agency_id)
