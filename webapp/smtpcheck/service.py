"""Test-email runs: started from the page or the CLI, executed by an RQ job, streamed through Redis."""
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select

from webapp.extensions import db
from webapp.event_streams import publish
from webapp.jobs import MAIL_QUEUE, get_queue
from webapp.mail_secrets import MailSecretError
from webapp.mailsettings.service import MailNotConfigured, settings_view, smtp_settings_for
from webapp.models import Agency, SendingPause, TestRun, User
from webapp.models.types import utcnow
from webapp.mailtemplates.render import TemplateMissing, render_email
from webapp.notification_kinds import TEST_EMAIL
from webapp.outbox.sender import current_pause, resume
from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.hints import hint_for
from webapp.smtpcheck.message import compose_message

RATE_WINDOW = timedelta(hours=1)


class TestRunRefused(Exception):
    """A run cannot start: the message says why, `field` names the setting to fill."""

    __test__ = False

    def __init__(self, message, *, field: str | None = None, status: int = 400):
        super().__init__(str(message))
        self.message, self.field, self.status = message, field, status


def start_test_run(agency: Agency, user: User | None) -> TestRun:
    """Record a run and queue its job; refuses past the hourly limit or without an agency address."""
    from flask_babel import lazy_gettext as _l
    if not agency.email:
        raise TestRunRefused(_l("Agency email: fill it in first, the test email is sent there."),
                             field="agency_email")
    if not agency.mail_settings.host or not agency.mail_settings.port:
        raise TestRunRefused(_l("SMTP server: fill in the server and the port, then save."),
                             field="host")
    limit = current_app.config["TEST_EMAIL_RUNS_PER_HOUR"]
    if runs_in_last_hour(agency.id) >= limit:
        raise TestRunRefused(
            _l("Too many test emails: at most %(limit)d an hour. Try again later.", limit=limit),
            status=429)
    run = TestRun(id=secrets.token_hex(16), agency_id=agency.id,
                  user_id=user.id if user else None, to_address=agency.email,
                  settings_snapshot=settings_snapshot(agency))
    db.session.add(run)
    db.session.commit()
    from webapp.jobs import run_test_email
    # A run can wait out several SMTP timeouts (15 s each, plus the implicit-TLS probe): RQ's
    # default 180 s could cut it short and leave the page waiting.
    get_queue(MAIL_QUEUE).enqueue(run_test_email, run.id, job_id=f"testrun-{run.id}",
                                  job_timeout=600, result_ttl=0, failure_ttl=86400)
    return run


def runs_in_last_hour(agency_id: int) -> int:
    return db.session.execute(
        select(func.count(TestRun.id)).where(TestRun.agency_id == agency_id,
                                             TestRun.created_at > utcnow() - RATE_WINDOW)).scalar_one()


def settings_snapshot(agency: Agency) -> dict:
    """What the run was made with, for the record; the password only as set / not set."""
    view = settings_view(agency)
    return {name: getattr(view, name) for name in (
        "host", "port", "security", "login", "password_set", "sender_address", "sender_name")}


def execute_test_run(run_id: str) -> TestRun:
    """The job's work: send the test email step by step, publishing each step as it happens."""
    run = db.session.get(TestRun, run_id)
    if run is None or run.finished_at is not None:
        return run  # already done: a retried job changes nothing
    agency = db.session.get(Agency, run.agency_id)
    try:
        settings = smtp_settings_for(run.agency_id)
    except (MailNotConfigured, MailSecretError):
        # Settings emptied, or a stored password no key decrypts, after the run was started:
        # end the run anyway, or its page would wait forever.
        return _finish_run(run, ok=False, steps=[], failed_step=None, hint=None)
    result = run_test(settings, run.to_address, language=agency.locale,
                      message=_agency_test_message(settings, agency, run.to_address),
                      on_step=lambda step: publish(events_key(run_id), "step", step.as_dict()))
    return _finish_run(run, ok=result.ok, steps=result.steps, failed_step=result.failed_step,
                       hint=result.hint)


def _finish_run(run: TestRun, *, ok: bool, steps, failed_step, hint) -> TestRun:
    if ok:
        resume(run.agency_id)  # the settings work again: send what waited (before the run is
        # marked finished, so a retried job that finds it finished has already resumed)
    run.steps = [step.as_dict() for step in steps]
    run.ok, run.failed_step = ok, failed_step
    run.hint_code = hint.code if hint else None
    run.hint_variant = hint.variant if hint else None
    run.hint_reply = (hint.reply if hint else "")[:1000]
    run.finished_at = utcnow()
    db.session.commit()
    publish(events_key(run.id), "result", {"ok": run.ok})
    publish(events_key(run.id), "done", {})
    return run


def _agency_test_message(settings, agency: Agency, to_address: str):
    """The agency's test-email template; None (the built-in text) when it has none that works,
    because the test is about the connection and must not fail on a template."""
    try:
        rendered = render_email(agency.id, TEST_EMAIL, agency.locale, {})
    except TemplateMissing:
        return None
    return compose_message(settings, to_address, rendered.subject, rendered.text, rendered.html)


def events_key(run_id: str) -> str:
    return f"testrun:{run_id}"


# Built once: building this select and its cache key cost about as much as running it, on every
# load of the settings page (the same reason as the user's and the settings' statements).
_LAST_RUN = (select(TestRun)
             .where(TestRun.agency_id == bindparam("agency_id"), TestRun.finished_at.is_not(None))
             .order_by(TestRun.created_at.desc()).limit(1))


def last_run(agency_id: int) -> TestRun | None:
    return db.session.execute(_LAST_RUN, {"agency_id": agency_id}).scalar_one_or_none()


@dataclass(frozen=True)
class TestEmailStatus:
    """What the mail-settings page shows about testing: the last run and a sending pause."""

    __test__ = False
    last_run: TestRun | None
    last_hint: object
    pause: SendingPause | None
    pause_hint: object


def test_email_status(agency_id: int) -> TestEmailStatus:
    run = last_run(agency_id)
    pause = current_pause(agency_id)
    return TestEmailStatus(
        last_run=run, last_hint=run_hint(run) if run else None, pause=pause,
        pause_hint=hint_for(pause.hint_code, reply=pause.reply) if pause and pause.hint_code else None)


def run_hint(run: TestRun):
    if not run.hint_code:
        return None
    return hint_for(run.hint_code, variant=run.hint_variant, reply=run.hint_reply, step=run.failed_step)
