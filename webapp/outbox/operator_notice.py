"""The operator channel: when an agency's sending pauses, an email to its admins through the
operator's own mail server (OPERATOR_SMTP_URL), since the agency's own settings are what broke."""
import logging
from email.message import EmailMessage
from email.utils import format_datetime as rfc_date, make_msgid

from flask import current_app
from flask_babel import force_locale, format_datetime, gettext as _, ngettext
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import Agency, SendingPause, User
from webapp.models.types import utcnow
from webapp.outbox.status import state_of, waiting
from webapp.smtpcheck.connection import Envelope, SmtpError, SmtpSettings, open_session
from webapp.smtpcheck.guard import ascii_host

log = logging.getLogger(__name__)


def tell_admins(agency_id: int) -> bool:
    """Email the agency's admins that its sending is paused, once per pause. True if sent.

    The pause is marked told before sending, so two jobs never both send; a failed send unmarks
    it and raises, for RQ to record (the operator's server address, never its password)."""
    operator = current_app.config.get("OPERATOR_SMTP")
    if operator is None:
        return False
    claimed = db.session.execute(
        update(SendingPause).where(SendingPause.agency_id == agency_id,
                                   SendingPause.state == "paused",
                                   SendingPause.admins_told_at.is_(None))
        .values(admins_told_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:
        return False
    pause = db.session.execute(select(SendingPause).filter_by(agency_id=agency_id)).scalar_one()
    agency = db.session.get(Agency, agency_id)
    admins = db.session.execute(select(User.email).where(User.agency_id == agency_id,
                                                         User.is_admin.is_(True))
                                .order_by(User.id)).scalars().all()
    if not admins:
        # Unmarked, so an admin added during this pause is told by the next pausing failure.
        _unmark(pause)
        return False
    message = notice_message(agency, pause, operator.sender_address, admins)
    settings = SmtpSettings(host=operator.host, port=operator.port, security=operator.security,
                            login=operator.login, password=operator.password,
                            sender_address=operator.sender_address,
                            ehlo_name=current_app.config.get("MAIL_EHLO_NAME"),
                            # The operator's own server, not an agency's input: it may be local.
                            allow_private=True)
    try:
        with open_session(settings) as session:
            session.send(Envelope(message, operator.sender_address, tuple(admins)))
    except SmtpError as error:
        _unmark(pause)
        log.warning("operator channel %s:%s failed at %s: %s", operator.host, operator.port,
                    error.step, error.reply)
        raise RuntimeError(f"operator channel {operator.host}:{operator.port}: {error}") from None
    return True


def _unmark(pause: SendingPause) -> None:
    db.session.execute(update(SendingPause).where(SendingPause.id == pause.id)
                       .values(admins_told_at=None))
    db.session.commit()


def notice_message(agency: Agency, pause: SendingPause, sender: str,
                   admins: list[str]) -> EmailMessage:
    """The notice, in the agency's language: what is paused since when and why, what waits and
    when it expires, and where to fix it. Never a password: the server's reply is the one the
    SMTP session already masked."""
    state = state_of(pause)
    now = utcnow()
    emails = waiting(agency.id, now)
    with force_locale(agency.locale or "ru"):
        reason = str(state.hint.title) if state.hint else _("the mail settings are incomplete")
        lines = [
            _("Sending of %(agency)s's notifications to clients is paused since %(when)s: "
              "%(reason)s.", agency=agency.name, when=format_datetime(state.since, "short"),
              reason=reason),
        ]
        if state.reply:
            lines.append(_("The mail server answered: %(reply)s", reply=state.reply))
        if state.hint:
            lines.append(str(state.hint.fix))
        lines.append(_("Emails waiting: %(count)d.", count=emails.count))
        if emails.expiring:
            lines.append(ngettext("%(num)d of them will be dropped as too late unless sent by "
                                  "%(when)s.",
                                  "%(num)d of them will be dropped as too late unless sent by "
                                  "%(when)s (the first of them).", emails.expiring,
                                  when=format_datetime(emails.first_expiry, "short")))
        lines.append(_("Sending resumes by itself as soon as the mail server accepts the "
                       "settings again; saving corrected settings checks them at once."))
        if current_app.config.get("PUBLIC_URL"):
            lines.append(_("Mail settings: %(url)s",
                           url=current_app.config["PUBLIC_URL"].rstrip("/") + "/mail-settings"))
        subject = _("Sending of %(agency)s's emails is paused", agency=agency.name)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(admins)
    message["Subject"] = subject
    message["Date"] = rfc_date(now)
    message["Message-ID"] = make_msgid(domain=ascii_host(sender.rpartition("@")[2]))
    message.set_content("\n\n".join(lines) + "\n")
    return message
