"""Catching mail into a Maildir, and reading it back for the inbox page: each agency sees only
the mail it sent itself."""
import email
import mailbox
import re
import secrets
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OutboxEmail, TestRun

# Every agency of an installation sends to the one catcher, and a message names no agency that
# the agency could not forge (From, Message-ID domain). What ties a caught message to its sender
# is the catcher's own answer to DATA: a random id, which the sender keeps with the email (the
# outbox row's last reply, the test run's DATA step) and nobody else ever sees.
CAUGHT_ID_HEADER = "X-Caught-Id"
_CAUGHT_AS = re.compile(r"Caught as ([A-Za-z0-9_-]{16,})")


class CatchingHandler:
    """Accepts every message and stores it, with its envelope and a caught id, in a Maildir."""

    def __init__(self, directory: str):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=policy.default)
        # The envelope says who really got it: copies (S9) travel as extra RCPTs, not headers.
        for name in ("X-Envelope-From", "X-Envelope-To", CAUGHT_ID_HEADER):
            del message[name]  # only the catcher writes these
        caught_id = secrets.token_urlsafe(18)
        message["X-Envelope-From"] = envelope.mail_from
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        message[CAUGHT_ID_HEADER] = caught_id
        mailbox.Maildir(self.directory, create=True).add(message)
        return f"250 2.0.0 Caught as {caught_id}"


def start_catcher(directory: str, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(CatchingHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


@dataclass
class CaughtMessage:
    key: str
    caught_id: str
    subject: str
    sender: str
    envelope_to: str
    date: str
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""


def _box(directory: str) -> mailbox.Maildir:
    # Maildir(create=True) makes tmp/new/cur only for a directory that does not exist yet: an
    # empty one (the inbox opened before any mail) would break the catcher's first delivery.
    for sub in ("tmp", "new", "cur"):
        (Path(directory) / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(directory, create=True)


def _caught(key: str, raw) -> CaughtMessage:
    message = email.message_from_bytes(raw.as_bytes(), policy=policy.default)
    return CaughtMessage(key=key, caught_id=str(message.get(CAUGHT_ID_HEADER, "")),
                         subject=str(message.get("Subject", "")),
                         sender=str(message.get("From", "")),
                         envelope_to=str(message.get("X-Envelope-To", "")),
                         date=str(message.get("Date", "")), message=message)


def caught_ids_of(agency_id: int) -> set[str]:
    """The ids the catcher answered to the agency's own emails and test emails."""
    replies = list(db.session.execute(
        select(OutboxEmail.last_reply).where(OutboxEmail.agency_id == agency_id,
                                             OutboxEmail.last_reply.like("%Caught as %"))).scalars())
    for steps in db.session.execute(select(TestRun.steps).where(TestRun.agency_id == agency_id)).scalars():
        replies += [step.get("reply") or "" for step in steps or [] if step.get("step") == "data"]
    return {found for reply in replies for found in _CAUGHT_AS.findall(reply)}


def list_caught(directory: str, caught_ids: set[str], limit: int = 200) -> list[CaughtMessage]:
    """The newest caught messages among `caught_ids` (caught_ids_of the reader's agency)."""
    box = _box(directory)
    found = []
    # Maildir keys begin with the delivery time, so sorting them puts the newest first.
    for key in sorted(box.keys(), reverse=True):
        caught = _caught(key, box[key])
        if caught.caught_id in caught_ids:
            found.append(caught)
            if len(found) == limit:
                break
    return found


def get_caught(directory: str, key: str, caught_ids: set[str]) -> CaughtMessage | None:
    box = _box(directory)
    try:
        caught = _caught(key, box[key])
    except KeyError:
        return None
    return caught if caught.caught_id in caught_ids else None


def clear_caught(directory: str, caught_ids: set[str]) -> None:
    box = _box(directory)
    for key in list(box.keys()):
        if _caught(key, box[key]).caught_id in caught_ids:
            box.remove(key)
