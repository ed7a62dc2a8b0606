"""Helpers for bounce tests: send a real email, turn a provider's bounce sample into the bounce of
that email, point the agency's incoming settings at the test Dovecot."""
from email.header import Header
from pathlib import Path

from outbox_helpers import point_agency_at, queue_confirmation, reload
from webapp import mail_secrets
from webapp.extensions import db
from webapp.models import IncomingMailSettings

SAMPLES = Path(__file__).resolve().parent / "bounce_samples"


def send_confirmation(agency, server, run_worker, to="client@example.org", key="registration:1"):
    """Queue and really send one email through the test SMTP server; returns its outbox row."""
    point_agency_at(agency, server)
    row = queue_confirmation(agency, to=to, key=key)
    run_worker()
    row = reload(row)
    assert row.status == "sent" and row.message_id
    return row


def bounce_for(sample: str, row, recipient: str | None = None) -> bytes:
    """The provider's sample with the returned message's Message-ID, recipient, sender and subject
    set to those of the email really sent (CRLF line ends, as IMAP carries them)."""
    raw = (SAMPLES / sample).read_text(encoding="utf-8")
    # As senders write it: RFC 2047 encoded words for a non-ASCII subject.
    subject = Header(row.subject, "utf-8").encode() if not row.subject.isascii() else row.subject
    values = {"{message_id}": row.message_id, "{recipient}": recipient or row.to_address,
              "{sender}": "office@alpha.example", "{subject}": str(subject)}
    for placeholder, value in values.items():
        raw = raw.replace(placeholder, value)
    return raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def point_incoming_at(agency, mailbox, *, security="none", port=None, password=None, enabled=True,
                      after_reading="keep", move_folder=""):
    row = db.session.execute(db.select(IncomingMailSettings).filter_by(agency_id=agency.id)).scalar_one_or_none()
    if row is None:
        row = IncomingMailSettings(agency_id=agency.id)
        db.session.add(row)
    row.enabled, row.host, row.security, row.login = enabled, "localhost", security, mailbox.login
    row.port = port or (mailbox.tls_port if security == "tls" else mailbox.port)
    row.password_encrypted = mail_secrets.encrypt(password if password is not None else mailbox.password)
    row.after_reading, row.move_folder = after_reading, move_folder
    row.last_uid, row.last_error = 0, ""
    db.session.commit()
    return row
