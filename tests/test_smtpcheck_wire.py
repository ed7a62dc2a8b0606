"""Our own messages go on the wire exactly as the email package would write them."""
import io
import re
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.message import compose_message
from webapp.smtpcheck.wire import crlf, dot_stuffed, flatten

SETTINGS = SmtpSettings("smtp.example.com", 587, "starttls", sender_name="Агентство «Восток»",
                        sender_address="tours@example.com")
LONG_RUSSIAN = "Оплатите заказ до 18:00, иначе бронь будет снята автоматически. " * 3
LONG_ASCII = "Please pay before 18:00 or the booking is released automatically. " * 3


def generator_bytes(message, international: bool) -> bytes:
    policy = message.policy.clone(utf8=True) if international else message.policy
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
    return buffer.getvalue()


@pytest.mark.parametrize(("to", "subject", "text", "html"), [
    ("client@example.org", "Подтверждение регистрации", "Здравствуйте!\nВаш логин: anna", None),
    ("client@example.org", "Order 291205 changed", "Hello\r\nline two\rline three", "<p>Hi</p>"),
    ("client@example.org", LONG_RUSSIAN, LONG_RUSSIAN, f"<p>{LONG_RUSSIAN}</p>"),
    ("client@example.org", LONG_ASCII, LONG_ASCII, f"<p>{LONG_ASCII}</p>\n"),
    ("клиент@почта.рф", "Заказ изменён", "Текст", "<p>Текст</p>"),
    ("client@почта.рф", "Заказ изменён", ".a line starting with a dot\n", ""),
])
def test_the_fast_path_writes_what_the_generator_writes(to, subject, text, html):
    message = compose_message(SETTINGS, to, subject, text, html or None)
    international = not to.partition("@")[0].isascii()  # an IDN domain goes as punycode
    assert flatten(message, international) == generator_bytes(message, international)


def test_blind_copies_are_left_out_of_the_written_message():
    message = compose_message(SETTINGS, "client@example.org", "Тема", "Текст")
    message["Bcc"] = "copies@example.org"
    written = flatten(message, False)
    assert b"copies@example.org" not in written and b"Bcc" not in written
    assert message["Bcc"] == "copies@example.org"  # the caller's message is left as it was


# Texts made of the characters that matter to line ends and dot-stuffing.
TRICKY_BYTES = st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b".", b"..", b"a", "я".encode()]),
                        max_size=40).map(b"".join)


@given(TRICKY_BYTES)
def test_line_ends_become_crlf_as_the_generator_splits_them(data):
    assert crlf(data) == re.sub(rb"\r\n|\r|\n", b"\r\n", data)  # email.generator.NLCRE


@given(TRICKY_BYTES)
def test_a_dot_is_doubled_at_the_start_of_every_line_as_smtplib_does(data):
    normalised = crlf(data)
    assert dot_stuffed(normalised) == re.sub(rb"(?m)^\.", b"..", normalised)


def test_the_date_header_is_the_moment_the_message_was_composed():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    message = compose_message(SETTINGS, "client@example.org", "Тема", "Текст")
    after = datetime.now(timezone.utc)
    assert before <= parsedate_to_datetime(message["Date"]) <= after
