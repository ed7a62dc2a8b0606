"""Reading one message of the sending mailbox: a delivery failure report (RFC 3464, or a
provider's own format), an automatic reply (RFC 3834), or neither."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.message import Message

BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"
DELAY = "delay"  # RFC 3464 Action: delayed; the provider is still trying
OTHER = "other"


@dataclass(frozen=True)
class FailedRecipient:
    address: str  # lower case
    status: str  # RFC 3463 enhanced status code (5.1.1), or "" when the report has none
    diagnostic: str  # the remote server's words, one line

    @property
    def permanent(self) -> bool:
        return not self.status.startswith("4") and not _TEMPORARY_REPLY.match(self.diagnostic)


@dataclass(frozen=True)
class Report:
    kind: str
    report_format: str = ""
    recipients: tuple[FailedRecipient, ...] = ()
    # Message-IDs of the returned message, the most trustworthy first.
    message_ids: tuple[str, ...] = ()
    original_to: str = ""
    original_subject: str = ""


_TEMPORARY_REPLY = re.compile(r"^4\d\d[ -]")
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b([245]\d\d)[ -](?:[245]\.\d{1,3}\.\d{1,3}\b)?.*")
_ADDRESS = r"[^\s<>\"'(),;:@]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+"
_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)

# Who sends bounces (RFC 5321 4.5.5 null sender; the usual daemon mailboxes).
_DAEMON_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (subsystem|system)|microsoftexchange",
                            re.IGNORECASE)
# Subjects of bounces in formats without a delivery-status part.
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|mail delivery failed|delivery status notification \((failure|delay)\)"
    r"|delivery failure|failure notice|mail failure|недоставленное сообщение|не доставлено"
    r"|не удалось доставить|address not found", re.IGNORECASE)
# RFC 3834 3.1.7 and the headers mail programs add to their automatic replies instead.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)? ?reply|auto:|out of (the )?office|автоответ|автоматический ответ|отсутствую)",
    re.IGNORECASE)


def read_report(raw: bytes) -> Report:
    message = email.message_from_bytes(raw, policy=policy.compat32)
    subject = _text(message.get("Subject", ""))
    from_header = _text(message.get("From", ""))
    status_parts = [part for part in message.walk()
                    if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status")]
    if status_parts:
        return _rfc3464(message, status_parts)
    looks_like_bounce = bool(message.get("X-Failed-Recipients")) or bool(_DAEMON_SENDER.search(from_header))
    if not looks_like_bounce and _is_auto_reply(message, subject):
        return Report(AUTO_REPLY)
    if looks_like_bounce or _BOUNCE_SUBJECT.search(subject):
        return _free_text(message)
    return Report(OTHER)


def _is_auto_reply(message: Message, subject: str) -> bool:
    auto_submitted = (message.get("Auto-Submitted") or "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    if (message.get("Precedence") or "").strip().lower() == "auto_reply":
        return True
    # Exchange and Outlook: X-Auto-Response-Suppress plus "Automatic reply:" in the subject.
    return bool(_AUTO_REPLY_SUBJECT.match(subject))


def _rfc3464(message: Message, status_parts: list[Message]) -> Report:
    failed, delayed = [], False
    for part in status_parts:
        for block in _status_blocks(part):
            action = (block.get("Action") or "").strip().lower()
            recipient = _field_address(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            if action == "delayed":
                delayed = True
            if action != "failed" or not recipient:
                continue
            diagnostic = _unfold_reply(_field_value(block.get("Diagnostic-Code") or ""))
            status = (block.get("Status") or "").strip().split()[0] if block.get("Status") else ""
            failed.append(FailedRecipient(recipient, status or _enhanced(diagnostic), diagnostic))
    text = _human_text(message)
    if failed:
        failed = [_with_text_diagnostic(recipient, text) for recipient in failed]
    original = _original(message)
    if not failed:
        return Report(DELAY if delayed else OTHER)
    return Report(BOUNCE, _format_of(message, text, "rfc3464"), tuple(failed), *original)


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    # A delivery-status part the parser left as text (an odd Content-Transfer-Encoding).
    text = part.get_payload(decode=True) or b""
    return [email.message_from_string(block, policy=policy.compat32)
            for block in re.split(r"\r?\n\s*\r?\n", text.decode("utf-8", "replace"))]


def _with_text_diagnostic(recipient: FailedRecipient, text: str) -> FailedRecipient:
    """Some MTAs (Exim, Exchange) leave Diagnostic-Code out and say it in the human part."""
    if recipient.diagnostic:
        return recipient
    diagnostic = _diagnostic_near(text, recipient.address)
    return FailedRecipient(recipient.address, recipient.status or _enhanced(diagnostic), diagnostic)


def _free_text(message: Message) -> Report:
    """Bounces without a delivery-status part: Exim and Mail.ru (a plain text with the copy
    below), older Postfix, Exchange's and Gmail's prose."""
    text = _human_text(message)
    addresses = [_field_address(a) for a in (message.get("X-Failed-Recipients") or "").split(",")]
    addresses += [match.lower() for match in re.findall(
        rf"^\s*<?({_ADDRESS})>?\s*(?::|$)", _failure_section(text), re.MULTILINE)]
    addresses += [match.lower() for match in re.findall(
        rf"(?:wasn't delivered to|could not be delivered to|your message to)\s+<?({_ADDRESS})", text,
        re.IGNORECASE)]
    addresses = list(dict.fromkeys(a for a in addresses if a))
    failed = tuple(FailedRecipient(address, _enhanced(d), d)
                   for address in addresses for d in [_diagnostic_near(text, address)])
    if not failed:
        diagnostic = _diagnostic_near(text, "")
        if not diagnostic:
            return Report(OTHER)
        failed = (FailedRecipient("", _enhanced(diagnostic), diagnostic),)
    return Report(BOUNCE, _format_of(message, text, "text"), failed, *_original(message, text))


def _failure_section(text: str) -> str:
    """The part of an Exim/Postfix/Exchange text that lists the failed addresses (not the copy)."""
    for marker in ("------ This is a copy of the message", "Original message headers:",
                   "--- Below this line is a copy", "------ Original message"):
        text = text.split(marker, 1)[0]
    return text


def _diagnostic_near(text: str, address: str) -> str:
    """The remote server's reply that follows the address (or the first reply at all)."""
    section = _failure_section(text)
    start = section.lower().find(address.lower()) if address else 0
    after = section[max(start, 0):]
    # Exchange: Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; ...'
    quoted = re.search(r"Remote Server returned '([^']+)'", after, re.IGNORECASE)
    if quoted:
        return _one_line(quoted.group(1))
    # Gmail: "The response (from the remote server) was:" then the reply, possibly multi-line.
    response = re.search(r"The response(?: from the remote server)? was:\s*\n\s*\n?(.+?)(?:\n\s*\n|\Z)", after,
                         re.IGNORECASE | re.DOTALL)
    if response:
        return _unfold_reply(response.group(1))
    match = _SMTP_REPLY.search(after)
    if match:
        # The reply may continue on the next indented lines (Postfix, Exim).
        tail = after[match.start():].split("\n\n", 1)[0]
        return _unfold_reply(tail)
    return ""


def _unfold_reply(text: str) -> str:
    # Multi-line replies repeat "550-5.7.26 " at each line (RFC 5321 4.2.1): keep the code once,
    # as a one-line reply writes it ("550 5.7.26 ..."), and the words.
    lines = [re.sub(r"^\s*[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?", "", line) if index
             else re.sub(r"^([245]\d\d)-", r"\1 ", line.strip())
             for index, line in enumerate(text.strip().splitlines())]
    return _one_line(" ".join(lines))


def _original(message: Message, text: str = "") -> tuple[tuple[str, ...], str, str]:
    """Message-IDs, To and Subject of the returned message: from a message/rfc822 or
    text/rfc822-headers part, else from the copy quoted in the text."""
    ids, to, subject = [], "", ""
    for part in message.walk():
        content_type = part.get_content_type()
        headers = None
        if content_type == "message/rfc822":
            payload = part.get_payload()
            headers = payload[0] if isinstance(payload, list) and payload else None
        elif content_type == "text/rfc822-headers":
            raw = part.get_payload(decode=True) or b""
            headers = email.message_from_bytes(raw, policy=policy.compat32)
        if headers is not None:
            if headers.get("Message-ID"):
                ids.append(headers["Message-ID"].strip())
            to = to or _text(headers.get("To", ""))
            subject = subject or _text(headers.get("Subject", ""))
    own = (message.get("Message-ID") or "").strip()
    quoted = text or _human_text(message)
    ids += [found for found in _MESSAGE_ID.findall(quoted) if found != own]
    # Mail.ru and others also name it in their own headers.
    for header in ("X-Mailer-Daemon-Message-Id", "Original-Message-ID"):
        if message.get(header):
            ids.append(message[header].strip())
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status",):
            for block in _status_blocks(part):
                if block.get("Original-Message-ID"):
                    ids.append(block["Original-Message-ID"].strip())
    copy = _quoted_copy(quoted)
    if copy is not None:
        to = to or _text(copy.get("To", ""))
        subject = subject or _text(copy.get("Subject", ""))
    return tuple(dict.fromkeys(i for i in ids if i.startswith("<"))), to, subject


def _quoted_copy(text: str) -> Message | None:
    """The returned message's headers that Exim and Exchange quote in the text."""
    for marker in ("------ This is a copy of the message, including all the headers. ------",
                   "Original message headers:"):
        if marker in text:
            return email.message_from_string(text.split(marker, 1)[1].lstrip("\n"), policy=policy.compat32)
    return None


def _human_text(message: Message) -> str:
    """Every text/plain part outside the returned message (the part a person reads)."""
    texts = []

    def visit(part: Message):
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            return
        if part.is_multipart():
            for child in part.get_payload():
                visit(child)
            return
        if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html"):
            raw = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                decoded = raw.decode(charset, "replace")
            except LookupError:
                decoded = raw.decode("utf-8", "replace")
            if part.get_content_subtype() == "html":
                decoded = re.sub(r"<[^>]+>", " ", decoded)
            texts.append(decoded.replace("\r\n", "\n").replace("\r", "\n"))

    visit(message)
    return "\n\n".join(texts)


def _format_of(message: Message, text: str, default: str) -> str:
    """Which MTA wrote it, for the record (the parser reads them all the same way)."""
    sender = _text(message.get("From", "")).lower()
    if "googlemail.com" in sender or "google.com" in sender or "gsmtp" in text:
        return "gmail"
    if "microsoftexchange" in sender or "Remote Server returned" in text or "Diagnostic information for administrators" in text:
        return "exchange"
    if "mail.ru" in sender:
        return "mailru"
    if "yandex" in sender:
        return "yandex"
    if "This message was created automatically by mail delivery software" in text:
        return "exim"
    if "This is the mail system at host" in text:
        return "postfix"
    return default


def _field_address(value: str) -> str:
    # "rfc822; user@example.com" (RFC 3464 2.3.2), sometimes with angle brackets.
    value = value.split(";", 1)[-1]
    match = re.search(_ADDRESS, value)
    return match.group(0).lower() if match else ""


def _field_value(value: str) -> str:
    return value.split(";", 1)[-1] if ";" in value[:12] else value


def _enhanced(text: str) -> str:
    match = _ENHANCED.search(text or "")
    return match.group(1) if match else ""


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()[:1000]


def _text(value) -> str:
    value = str(value)
    if any("\udc80" <= char <= "\udcff" for char in value):
        # Raw 8-bit header bytes (RFC 6532), kept by the parser as surrogates.
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # a broken encoded word: show it as it came
        return str(value)
