"""The test email an agency sends itself to check its mail settings."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, localtime, make_msgid
from pathlib import Path

from babel.support import NullTranslations, Translations

from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.guard import ascii_host

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LANGUAGES = ("ru", "en")


def _translations(language: str) -> NullTranslations:
    # Not Flask-Babel: the message is built in a worker, in the agency's language, not the reader's.
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")


def envelope_sender(settings: SmtpSettings, to_address: str) -> str:
    """The address the message comes from: the sender address, else the login mailbox, else the agency's own."""
    for candidate in (settings.sender_address, settings.login):
        if "@" in candidate:
            return candidate.strip()
    return to_address.strip()  # a relay that needs no login and no sender address set


def _address(display_name: str, addr_spec: str) -> Address:
    local, _, domain = addr_spec.rpartition("@")
    if local.isascii():
        domain = ascii_host(domain)  # an IDN domain goes as punycode, like the envelope
    return Address(display_name=display_name, username=local, domain=domain)


def compose_message(
    settings: SmtpSettings, to_address: str, subject: str, text: str, html: str | None = None
) -> EmailMessage:
    """A message from the agency's sender to one address; with html, a text/HTML alternative."""
    sender = envelope_sender(settings, to_address)
    message = EmailMessage(policy=SMTP)
    # headerregistry encodes a non-ASCII display name (RFC 2047) and keeps the address intact.
    message["From"] = _address(settings.sender_name.strip(), sender)
    message["To"] = _address("", to_address.strip())
    message["Subject"] = subject
    message["Date"] = format_datetime(localtime())
    message["Message-ID"] = make_msgid(domain=ascii_host(sender.rpartition("@")[2]))
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def build_test_message(settings: SmtpSettings, to_address: str, language: str = "ru") -> EmailMessage:
    """The test message to the agency's own address, in the agency's language (Russian by default)."""
    translations = _translations(language if language in LANGUAGES else "ru")
    body = translations.gettext(
        "This is a test email from the mail settings page. If you are reading it, "
        "the mail server settings work and notifications to your clients will be sent."
    )
    server = translations.gettext("Server: %(host)s, port %(port)s, security: %(security)s.") % {
        "host": settings.host,
        "port": settings.port,
        "security": settings.security,
    }
    return compose_message(settings, to_address, translations.gettext("Test email"), f"{body}\n\n{server}\n")
