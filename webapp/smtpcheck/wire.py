"""A message as the bytes that go on the wire, as smtplib.send_message would write them."""

from __future__ import annotations

import copy
import io
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy


class ReadyPolicy(EmailPolicy):
    """The SMTP policy for a message whose headers we stored ready-encoded: reading one back
    (the generator asks for Content-Type eight times a message) returns the string, skipping
    headerregistry's parser, which cost more than composing the whole message."""

    def header_fetch_parse(self, name, value):
        return "".join(value.splitlines())


READY = ReadyPolicy(linesep="\r\n")  # email.policy.SMTP's settings


def crlf(data: bytes) -> bytes:
    """Every line end the generator splits bodies on (CRLF, a bare CR, a bare LF:
    email.generator.NLCRE) as CRLF. bytes.replace, not a regex: the alternation cost ~20 µs a
    body, more than the rest of writing the message."""
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def dot_stuffed(data: bytes) -> bytes:
    """A CRLF-ended text with a dot doubled at the start of every line (RFC 5321 4.5.2)."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


def flatten(message: EmailMessage, international: bool) -> bytes:
    """CRLF line ends, raw UTF-8 headers only under SMTPUTF8 (RFC 6531), and blind copies never
    written into the message itself."""
    if "Bcc" in message or "Resent-Bcc" in message:
        message = copy.copy(message)
        del message["Bcc"], message["Resent-Bcc"]
    policy = message.policy.clone(utf8=True) if international else message.policy
    if isinstance(message.policy, ReadyPolicy):
        # Our own messages hold only ready text, so writing it out is string joins; the
        # generator's walk over policies and parts cost more than the SMTP exchange.
        return _ready_bytes(message, policy)
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        return buffer.getvalue()


def _ready_bytes(message: EmailMessage, policy: EmailPolicy) -> bytes:
    """What BytesGenerator writes for a message of ready headers and text or multipart bodies
    (tests compare the two byte for byte)."""
    head = "".join(_header_line(name, value, policy) for name, value in message.raw_items())
    head_bytes = head.encode("utf-8" if policy.utf8 else "ascii") + b"\r\n"
    if not message.is_multipart():
        # decode=True gives a 7bit/8bit body back as the bytes the generator copies out (and
        # skips the charset lookup); quoted-printable and base64 bodies are ASCII text.
        cte = message.get("Content-Transfer-Encoding", "").lower()
        body = message.get_payload(decode=True) if cte in ("", "7bit", "8bit") \
            else message.get_payload().encode("ascii")
        return head_bytes + crlf(body or b"")
    delimiter = f"--{message.get_boundary()}".encode("ascii")
    parts = [_ready_bytes(part, policy) for part in message.get_payload()]
    return (head_bytes + delimiter + b"\r\n" + (b"\r\n" + delimiter + b"\r\n").join(parts)
            + b"\r\n" + delimiter + b"--\r\n")


def _header_line(name: str, value: str, policy: EmailPolicy) -> str:
    # A one-line value that fits is written as it is, which is what folding it would give.
    if "\n" not in value and len(name) + len(value) + 2 <= policy.max_line_length:
        return f"{name}: {value}\r\n"
    return policy.fold(name, value)
