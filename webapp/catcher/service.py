"""Catching mail into a Maildir, and reading it back for the inbox page."""
import email
import mailbox
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class CatchingHandler:
    """Accepts every message and stores it, with its envelope, in a Maildir."""

    def __init__(self, directory: str):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=policy.default)
        # The envelope says who really got it: copies (S9) travel as extra RCPTs, not headers.
        message["X-Envelope-From"] = envelope.mail_from
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        mailbox.Maildir(self.directory, create=True).add(message)
        return "250 2.0.0 Caught"


def start_catcher(directory: str, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(CatchingHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


@dataclass
class CaughtMessage:
    key: str
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
    return CaughtMessage(key=key, subject=str(message.get("Subject", "")),
                         sender=str(message.get("From", "")),
                         envelope_to=str(message.get("X-Envelope-To", "")),
                         date=str(message.get("Date", "")), message=message)


def list_caught(directory: str, limit: int = 200) -> list[CaughtMessage]:
    box = _box(directory)
    # Maildir keys begin with the delivery time, so sorting them puts the newest first.
    return [_caught(key, box[key]) for key in sorted(box.keys(), reverse=True)[:limit]]


def get_caught(directory: str, key: str) -> CaughtMessage | None:
    box = _box(directory)
    try:
        return _caught(key, box[key])
    except KeyError:
        return None


def clear_caught(directory: str) -> None:
    box = _box(directory)
    for key in list(box.keys()):
        box.remove(key)
