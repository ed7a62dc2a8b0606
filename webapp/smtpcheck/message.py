"""The test email an agency sends itself to check its mail settings."""

from __future__ import annotations

import base64
import copy
import functools
import random
import time
from datetime import datetime, timezone
from email import quoprimime
from email.header import Header
from email.message import EmailMessage
from dataclasses import dataclass, replace
from email.utils import format_datetime, localtime, make_msgid, quote
from pathlib import Path

from babel.support import NullTranslations, Translations

from webapp.mailsettings.presets import preset_for_host
from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.guard import ascii_host
from webapp.smtpcheck.wire import READY
from webapp.text_rules import breaks_header

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LANGUAGES = ("ru", "en")


def _translations(language: str) -> NullTranslations:
    # Not Flask-Babel: the message is built in a worker, in the agency's language, not the reader's.
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")


class UnsafeHeader(ValueError):
    """A header value holds a control character: the message is not built (the forms refuse
    these; this is the last guard, for values that came another way)."""


def _refuse_header_breaks(**values: str) -> None:
    for name, value in values.items():
        if breaks_header(value):
            raise UnsafeHeader(f"the {name} holds a control character")


class NoSenderAddress(ValueError):
    """No setting gives an address to send from: the sender address and the agency email are
    empty and the login is not an address. Mail would have to claim to come from its recipient."""


@dataclass(frozen=True)
class SenderIdentity:
    """Who a message comes from, decided once for the test email, notifications, the template
    preview and the troubleshooting checks alike."""

    address: str  # the header From
    name: str
    envelope: str  # MAIL FROM: the login mailbox where the provider requires it, else `address`
    source: str  # the setting `address` comes from: sender_address, login or agency_email

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].strip().lower().rstrip(".")


def sender_identity(settings) -> SenderIdentity:
    """The one rule: From is the sender address, else the login when it is an address, else the
    agency's own address; never a recipient's. `settings` is anything with host, login,
    sender_address, sender_name and agency_email (SmtpSettings, the settings page's view or form).

    Raises NoSenderAddress when none of them is an address."""
    login = (settings.login or "").strip()
    for source, candidate in (("sender_address", settings.sender_address), ("login", login),
                              ("agency_email", settings.agency_email)):
        candidate = (candidate or "").strip()
        if "@" in candidate:
            break
    else:
        raise NoSenderAddress("no sender address, login address or agency email to send from")
    envelope = candidate
    if "@" in login and (preset := preset_for_host(settings.host)) and preset.envelope_is_login:
        envelope = login  # "553 Sender address rejected: not owned by auth user" otherwise
    return SenderIdentity(address=candidate, name=(settings.sender_name or "").strip(),
                          envelope=envelope, source=source)


def envelope_sender(settings: SmtpSettings) -> str:
    return sender_identity(settings).envelope


def settings_for_test_email(settings: SmtpSettings, to_address: str) -> SmtpSettings:
    """The test email goes to the agency's own address (the page's agency email, the CLI's --to):
    without an agency email in the settings, that is the address the sender falls back on."""
    return settings if settings.agency_email else replace(settings, agency_email=to_address)


def _address(display_name: str, addr_spec: str) -> str:
    local, _, domain = addr_spec.rpartition("@")
    if local.isascii():
        domain = ascii_host(domain)  # an IDN domain goes as punycode, like the envelope
    address = f"{local}@{domain}"
    if not display_name:
        return address  # a non-ASCII local part stays raw: it only goes out under SMTPUTF8
    return f"{_display_name(display_name)} <{address}>"


# A batch repeats the agency's name and a few subjects: encoding each once saves most of the
# composing time (email.header is slow).
@functools.lru_cache(maxsize=256)
def _display_name(name: str) -> str:
    if name.isascii():
        return f'"{quote(name)}"'
    # RFC 2047 encoded words, the address then on a line of its own (RFC 5322 folding).
    return f"{Header(name, 'utf-8', header_name='From').encode(linesep=READY.linesep)}{READY.linesep}"


@functools.lru_cache(maxsize=1024)
def _header_text(name: str, value: str) -> str:
    """An unstructured header value ready to write: ASCII as it is, else RFC 2047 encoded words,
    folded to 78 characters (RFC 5322 2.1.1)."""
    if value.isascii() and len(name) + len(value) + 2 <= READY.max_line_length:
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep=READY.linesep)


@functools.lru_cache(maxsize=1)
def _date_header(second: int) -> str:
    """The Date header for a moment, in local time (RFC 5322 3.3); a batch writes hundreds of
    messages a second and formatting the date cost a quarter of composing one."""
    return format_datetime(localtime(datetime.fromtimestamp(second, timezone.utc)))


def _encode_body(text: str) -> tuple[str, str]:
    """The transfer encoding and encoded body, chosen as email.contentmanager does under the SMTP
    policy: 7bit or 8bit while lines fit, else quoted-printable for ASCII, base64 for the rest."""
    lines = text.encode().splitlines()
    body = b"\n".join(lines) + b"\n"
    if max((len(line) for line in lines), default=0) <= READY.max_line_length:
        if body.isascii():
            return "7bit", body.decode("ascii")
        # Kept as surrogate-escaped text, as the email package's parser does, so BytesGenerator
        # writes the UTF-8 bytes unchanged.
        return "8bit", body.decode("ascii", "surrogateescape")
    if body.isascii():
        return "quoted-printable", quoprimime.body_encode(body.decode("ascii"), READY.max_line_length)
    crlf = READY.linesep.encode()
    return "base64", base64.encodebytes(crlf.join(lines) + crlf).decode("ascii")


def _set_text(part: EmailMessage, text: str, subtype: str) -> EmailMessage:
    cte, body = _encode_body(text)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(body)
    return part


def _boundary(*texts: str) -> str:
    while True:
        boundary = f"==============={random.randrange(10 ** 19):019d}=="
        if not any(boundary in text for text in texts):
            return boundary


def compose_message(
    settings: SmtpSettings, to_address: str, subject: str, text: str, html: str | None = None
) -> EmailMessage:
    """A message from the agency's sender (sender_identity) to one address; with html, a
    text/HTML alternative. Raises NoSenderAddress when the settings give nobody to send from.

    Headers are stored ready-encoded with set_raw: headerregistry's parse and refold of every
    header cost ~0.8 ms a message, more than the SMTP exchange itself (docs/PERFORMANCE.md).
    """
    sender = sender_identity(settings)
    _refuse_header_breaks(sender_name=sender.name, sender_address=sender.address,
                          to_address=to_address.strip(), subject=subject)
    message = EmailMessage(policy=READY)
    message.set_raw("From", _address(sender.name, sender.address))
    message.set_raw("To", _address("", to_address.strip()))
    message.set_raw("Subject", _header_text("Subject", subject))
    message.set_raw("Date", _date_header(int(time.time())))
    message.set_raw("Message-ID", make_msgid(domain=ascii_host(sender.domain)))
    message.set_raw("MIME-Version", "1.0")
    if html is None:
        return _set_text(message, text, "plain")
    message.set_raw("Content-Type", f'multipart/alternative;{READY.linesep} boundary="{_boundary(text, html)}"')
    message.set_payload([_set_text(EmailMessage(policy=READY), text, "plain"),
                         _set_text(EmailMessage(policy=READY), html, "html")])
    return message


def with_documents(message: EmailMessage, documents) -> EmailMessage:
    """A copy of the message as multipart/mixed with the documents attached; the message itself
    stays as it was (a batch keeps it, small, while each document is read just before its send).
    add_attachment writes a non-ASCII file name as RFC 2231 (filename*=utf-8''...)."""
    mixed = copy.copy(message)  # _make_multipart rebinds the header list and payload, never edits them
    mixed.make_mixed()
    for document in documents:
        maintype, _, subtype = document.content_type.partition("/")
        mixed.add_attachment(document.content, maintype=maintype, subtype=subtype,
                             filename=document.filename)
    # The wire writer (wire.flatten) takes headers as ready text, like every header composed here.
    for part, document in zip(mixed.get_payload()[1:], documents):
        del part["MIME-Version"]  # a part's own, from add_attachment: only the message has one
        _make_ready(part)
        items = list(part.raw_items())
        for name in dict.fromkeys(name for name, _ in items):
            del part[name]
        for name, value in items:
            part.set_raw(name, _content_type_with_name(document) if name == "Content-Type" else value)
    del mixed["Content-Type"]
    mixed.set_raw("Content-Type", f'multipart/mixed;{READY.linesep} boundary="{_boundary()}"')
    return mixed


def _content_type_with_name(document) -> str:
    """The part's Content-Type with the file's name too, as Thunderbird writes it: a client that
    reads no RFC 2231 filename*0*= continuations (older Outlook, some webmail) shows this one
    instead of ATT00001.bin. A non-ASCII name is RFC 2047 encoded words (each at most 75
    characters, split between characters), one a line."""
    name = document.filename
    if name.isascii():
        words = quote(name)
    else:
        chunks, chunk = [], ""
        for char in name:
            # 42 bytes: 56 characters of base64, 68 a word: a line of 77 with ' name="' and '"'
            if len((chunk + char).encode()) > 42:
                chunks.append(chunk)
                chunk = ""
            chunk += char
        chunks.append(chunk)
        words = f"{READY.linesep} ".join(
            f"=?utf-8?b?{base64.b64encode(chunk.encode()).decode('ascii')}?=" for chunk in chunks)
    return f'{document.content_type};{READY.linesep} name="{words}"'


def _make_ready(part: EmailMessage) -> None:
    """Each header the email package parsed, as the folded text it would write."""
    items = list(part.raw_items())
    if all(type(value) is str for _, value in items):
        return
    for name in dict.fromkeys(name for name, _ in items):
        del part[name]
    for name, value in items:
        if type(value) is not str:
            value = READY.fold(name, value)[len(name) + 2:].removesuffix(READY.linesep)
        part.set_raw(name, value)


def build_test_message(settings: SmtpSettings, to_address: str, language: str = "ru") -> EmailMessage:
    """The test message to the agency's own address, in the agency's language (Russian by default)."""
    settings = settings_for_test_email(settings, to_address)
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
