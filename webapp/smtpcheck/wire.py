"""A message as the bytes that go on the wire, as smtplib.send_message would write them."""

from __future__ import annotations

import copy
import io
import re
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
_LINE_END = re.compile(r"\r\n|\r|\n")  # what the generator splits bodies on (email.generator.NLCRE)


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
    head = "".join(policy.fold(name, value) for name, value in message.raw_items())
    head_bytes = head.encode("utf-8" if policy.utf8 else "ascii") + b"\r\n"
    if not message.is_multipart():
        # get_payload() gives 8bit bodies back as text in their charset; the same charset
        # writes the same bytes the generator copies out.
        body = _LINE_END.sub("\r\n", message.get_payload() or "")
        return head_bytes + body.encode(message.get_content_charset("ascii"))
    delimiter = f"--{message.get_boundary()}".encode("ascii")
    parts = [_ready_bytes(part, policy) for part in message.get_payload()]
    return (head_bytes + delimiter + b"\r\n" + (b"\r\n" + delimiter + b"\r\n").join(parts)
            + b"\r\n" + delimiter + b"--\r\n")
