"""Test-email runs: started from the page or the CLI, executed by an RQ job, streamed through Redis."""
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select

from webapp import mail_secrets
from webapp.extensions import db
from webapp.event_streams import publish
from webapp.jobs import MAIL_QUEUE, get_queue, redis_connection
from webapp.mail_secrets import MailSecretError
from webapp.mailsettings.service import (MailNotConfigured, settings_view, smtp_settings_for,
                                         stored_password_usable)
from webapp.models import Agency, MailSettings, SendingPause, TestRun, User
from webapp.models.types import utcnow
from webapp.mailtemplates.render import TemplateMissing, render_email
from webapp.notification_kinds import TEST_EMAIL
from webapp.outbox.sender import current_pause, resume
from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.hints import hint_for
from webapp.smtpcheck.message import compose_message

RATE_WINDOW = timedelta(hours=1)


class TestRunRefused(Exception):
    """A run cannot start: the message says why, `field` names the setting to fill; `form`, when
    the typed values were wrong, holds each field's message."""

    __test__ = False

    def __init__(self, message, *, field: str | None = None, status: int = 400, form=None):
        super().__init__(str(message))
        self.message, self.field, self.status, self.form = message, field, status, form

    @property
    def fields(self) -> list[str]:
        """The fields whose messages the refusal shows."""
        if self.form is not None:
            return [name for name in TESTED_FIELDS + ("password",) if self.form[name].errors]
        return [self.field] if self.field else []


# What a test email is made with: the connection, the sender and the agency address it goes to.
TESTED_FIELDS = ("host", "port", "security", "login", "sender_address", "sender_name", "agency_email")
# A typed password waits here for its run's job (encrypted, like a stored one): jobs take ids,
# never secrets.
TYPED_PASSWORD_TTL = 3600


@dataclass(frozen=True)
class TypedSettings:
    """The settings form's values as typed, to test before (or without) saving them."""

    __test__ = False
    values: dict  # TESTED_FIELDS
    password: str = field(default="", repr=False)  # empty: the stored password
    remove_password: bool = False


@dataclass(frozen=True)
class RunRefusal:
    """Why a started run sent nothing, decided when its job ran (not a server's answer): shown
    like a hint, on the field to change; recorded as the run's hint code."""

    code: str
    title: object
    detail: object
    fix: object
    field: str | None = "password"
    reply: str = ""
    kind: str | None = None  # no consequence for notifications: only this test stopped
    consequence: str = ""
    troubleshooting_check: str | None = None
    variant: str | None = None


STORED_PASSWORD_ELSEWHERE = RunRefusal(
    "stored_password_elsewhere",
    _l("The stored password was not sent"),
    _l("The saved settings changed after this test started: the stored password now belongs to "
       "another server than the one this test was to reach, and it is sent only to its own server."),
    _l("Type the password in the SMTP password field and send the test email again."))
TYPED_PASSWORD_EXPIRED = RunRefusal(
    "typed_password_expired",
    _l("The typed password expired"),
    _l("The password typed for this test is kept only for an hour while the test waits to run, "
       "and this test did not run in time: nothing was sent."),
    _l("Type the password again and send the test email again."))
RUN_REFUSALS = {refusal.code: refusal for refusal in (STORED_PASSWORD_ELSEWHERE, TYPED_PASSWORD_EXPIRED)}


class RunCannotProceed(Exception):
    """The job refuses to test: `hint` (a RunRefusal) says why and which field to change."""

    def __init__(self, hint: RunRefusal):
        super().__init__(hint.code)
        self.hint = hint


def start_test_run(agency: Agency, user: User | None, typed: TypedSettings | None = None) -> TestRun:
    """Record a run and queue its job; refuses past the hourly limit or without an agency address.

    With `typed`, the run tests those values (nothing is saved); without, the saved settings."""
    view = settings_view(agency)
    saved = {name: getattr(view, name) for name in TESTED_FIELDS}
    values = typed.values if typed else saved
    if not values["agency_email"]:
        raise TestRunRefused(_l("Agency email: fill it in first, the test email is sent there."),
                             field="agency_email")
    if not values["host"] or not values["port"]:
        raise TestRunRefused(_l("SMTP server: fill in the server and the port, then save.") if typed is None
                             else _l("SMTP server: fill in the server and the port."), field="host")
    if typed and not typed.password and not typed.remove_password and values["login"] \
            and not stored_password_usable(view, values["host"], values["port"], values["security"]):
        raise TestRunRefused(
            _l("SMTP password: the server differs from the saved one, and the stored password is "
               "sent only to the saved server. Type the password to test with it."),
            field="password", status=422)
    limit = current_app.config["TEST_EMAIL_RUNS_PER_HOUR"]
    if runs_in_last_hour(agency.id) >= limit:
        from flask_babel import format_time
        raise TestRunRefused(
            _l("Too many test emails: at most %(limit)d an hour. The next one can be sent at %(time)s.",
               limit=limit, time=format_time(next_run_allowed_at(agency.id), "short")),
            status=429)
    if typed and typed.password:
        password = "typed"
    elif typed and typed.remove_password:
        password = "none"
    else:
        password = "stored" if view.password_set else "none"
    run = TestRun(id=secrets.token_hex(16), agency_id=agency.id,
                  user_id=user.id if user else None, to_address=values["agency_email"],
                  settings_snapshot={**values, "password": password,
                                     "password_set": password != "none", "typed": typed is not None})
    db.session.add(run)
    db.session.commit()
    if password == "typed":
        redis_connection().set(_typed_password_key(run.id), mail_secrets.encrypt(typed.password),
                               ex=TYPED_PASSWORD_TTL)
    from webapp.jobs import run_test_email
    # A run can wait out several SMTP timeouts (15 s each, plus the implicit-TLS probe): RQ's
    # default 180 s could cut it short and leave the page waiting.
    get_queue(MAIL_QUEUE).enqueue(run_test_email, run.id, job_id=f"testrun-{run.id}",
                                  job_timeout=600, result_ttl=0, failure_ttl=86400)
    return run


def _typed_password_key(run_id: str) -> str:
    return f"testrun:{run_id}:password"


def runs_in_last_hour(agency_id: int) -> int:
    return db.session.execute(
        select(func.count(TestRun.id)).where(TestRun.agency_id == agency_id,
                                             TestRun.created_at > utcnow() - RATE_WINDOW)).scalar_one()


def next_run_allowed_at(agency_id: int):
    """When the oldest run of the last hour leaves the window, and another may start."""
    oldest = db.session.execute(
        select(func.min(TestRun.created_at)).where(TestRun.agency_id == agency_id,
                                                   TestRun.created_at > utcnow() - RATE_WINDOW)).scalar_one()
    return (oldest or utcnow()) + RATE_WINDOW


def execute_test_run(run_id: str) -> TestRun:
    """The job's work: send the test email step by step, publishing each step as it happens."""
    run = db.session.get(TestRun, run_id)
    if run is None or run.finished_at is not None:
        return run  # already done: a retried job changes nothing
    agency = db.session.get(Agency, run.agency_id)
    try:
        settings = tested_settings(run)
    except RunCannotProceed as refused:
        return _finish_run(run, ok=False, steps=[], failed_step=None, hint=refused.hint)
    except (MailNotConfigured, MailSecretError):
        # Settings emptied, or a stored password no key decrypts, after the run was started:
        # end the run anyway, or its page would wait forever.
        return _finish_run(run, ok=False, steps=[], failed_step=None, hint=None)
    result = run_test(settings, run.to_address, language=agency.locale,
                      message=_agency_test_message(settings, agency, run.to_address),
                      on_step=lambda step: publish(events_key(run_id), "step", step.as_dict()))
    return _finish_run(run, ok=result.ok, steps=result.steps, failed_step=result.failed_step,
                       hint=result.hint, tested_saved=result.ok and _are_saved(settings, run.agency_id))


def tested_settings(run: TestRun) -> SmtpSettings:
    """What the run tests: the values it was started with and their password (typed, stored or
    none); a run recorded before runs kept their values tests the saved settings."""
    snapshot = run.settings_snapshot or {}
    if "password" not in snapshot:
        return smtp_settings_for(run.agency_id)
    if snapshot["password"] == "typed":
        # Read, not taken: a retried job needs it again; the run's end deletes it.
        token = redis_connection().get(_typed_password_key(run.id))
        if token is None:
            raise RunCannotProceed(TYPED_PASSWORD_EXPIRED)
        password = mail_secrets.decrypt(token.decode())
    elif snapshot["password"] == "stored":
        # Checked again now, against what is stored now: the password may have been saved for
        # another server since the run started, and must not go to the one this run tests.
        if snapshot["login"] and not stored_password_usable(
                settings_view(db.session.get(Agency, run.agency_id)),
                snapshot["host"], snapshot["port"], snapshot["security"]):
            raise RunCannotProceed(STORED_PASSWORD_ELSEWHERE)
        stored = db.session.execute(select(MailSettings.password_encrypted)
                                    .filter_by(agency_id=run.agency_id)).scalar_one_or_none()
        if not stored:
            raise MailNotConfigured("the stored password was removed")
        password = mail_secrets.decrypt(stored)
    else:
        password = ""
    config = current_app.config
    return SmtpSettings(
        host=snapshot["host"], port=snapshot["port"], security=snapshot["security"],
        login=snapshot["login"], password=password, sender_address=snapshot["sender_address"],
        sender_name=snapshot["sender_name"], agency_email=snapshot["agency_email"],
        ehlo_name=config.get("MAIL_EHLO_NAME"), allow_private=bool(config.get("MAIL_ALLOW_PRIVATE_HOSTS")))


_COMPARED = ("host", "port", "security", "login", "password", "sender_address", "agency_email")


def _are_saved(settings: SmtpSettings, agency_id: int) -> bool:
    """Are these the agency's saved settings: only their success may resume its sending."""
    try:
        saved = smtp_settings_for(agency_id)
    except (MailNotConfigured, MailSecretError):
        return False
    return all(getattr(saved, name) == getattr(settings, name) for name in _COMPARED)


def differs_from_saved(run: TestRun, agency: Agency) -> bool:
    """Did the run test values that are not saved (the page then offers to save them)."""
    snapshot = run.settings_snapshot or {}
    if not snapshot.get("typed"):
        return False
    view = settings_view(agency)
    if snapshot.get("password") == "typed" or (snapshot.get("password") == "none") == view.password_set:
        return True
    return any(snapshot.get(name) != getattr(view, name) for name in TESTED_FIELDS)


def _finish_run(run: TestRun, *, ok: bool, steps, failed_step, hint,
                tested_saved: bool = False) -> TestRun:
    if ok and tested_saved:
        resume(run.agency_id)  # the settings work again: send what waited (before the run is
        # marked finished, so a retried job that finds it finished has already resumed)
    run.steps = [step.as_dict() for step in steps]
    run.ok, run.failed_step = ok, failed_step
    run.hint_code = hint.code if hint else None
    run.hint_variant = hint.variant if hint else None
    run.hint_reply = (hint.reply if hint else "")[:1000]
    run.finished_at = utcnow()
    db.session.commit()
    redis_connection().delete(_typed_password_key(run.id))  # the run is over: so is its password
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
    last_run_unsaved: bool = False  # the last run tested typed values that are not saved


def test_email_status(agency_id: int) -> TestEmailStatus:
    run = last_run(agency_id)
    pause = current_pause(agency_id)
    unsaved = bool(run and (run.settings_snapshot or {}).get("typed")
                   and differs_from_saved(run, db.session.get(Agency, agency_id)))
    return TestEmailStatus(
        last_run=run, last_hint=run_hint(run) if run else None, pause=pause,
        pause_hint=hint_for(pause.hint_code, reply=pause.reply) if pause and pause.hint_code else None,
        last_run_unsaved=unsaved)


def run_hint(run: TestRun):
    if not run.hint_code:
        return None
    if run.hint_code in RUN_REFUSALS:
        return RUN_REFUSALS[run.hint_code]
    return hint_for(run.hint_code, variant=run.hint_variant, reply=run.hint_reply, step=run.failed_step)
