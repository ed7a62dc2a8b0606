"""What a message of the sending mailbox is: a bounce, a delay, an automatic reply, or mail."""
from bounce_helpers import SAMPLES
from webapp.bounces import dsn
from webapp.bounces.reasons import classify


def sample(name: str, **values) -> bytes:
    raw = (SAMPLES / name).read_text(encoding="utf-8")
    defaults = {"message_id": "<1.2@alpha.example>", "recipient": "anna@client.example",
                "sender": "office@alpha.example", "subject": "Booking 291205"}
    for key, value in (defaults | values).items():
        raw = raw.replace("{" + key + "}", value)
    return raw.encode()


def test_a_delay_notice_is_not_a_bounce():
    raw = sample("postfix.eml").replace(b"Action: failed", b"Action: delayed").replace(b"Status: 5.1.1", b"Status: 4.4.1")
    assert dsn.read_report(raw).kind == dsn.DELAY


def test_a_persons_mail_titled_returned_mail_is_not_a_bounce():
    raw = b"From: Anna <anna@client.example>\r\nSubject: Returned mail about my booking\r\n\r\nHello, I returned...\r\n"
    assert dsn.read_report(raw).kind == dsn.OTHER


def test_a_bounce_names_the_returned_messages_id_and_subject():
    report = dsn.read_report(sample("exchange.eml"))
    assert report.message_ids == ("<1.2@alpha.example>",)
    assert report.original_subject == "Booking 291205"


def test_a_quoted_copy_gives_the_subject_in_exim_bounces():
    assert dsn.read_report(sample("exim.eml")).original_subject == "Booking 291205"


def test_a_temporary_failure_is_recorded_but_not_permanent():
    raw = sample("postfix.eml").replace(b"Status: 5.1.1", b"Status: 4.2.2").replace(
        b"smtp; 550 5.1.1", b"smtp; 452 4.2.2")
    (failed,) = dsn.read_report(raw).recipients
    assert (failed.status, failed.permanent) == ("4.2.2", False)
    assert classify(failed.status, failed.diagnostic) == "mailbox_full"


def test_each_auto_reply_header_of_rfc_3834_and_mail_programs_is_recognised():
    for header in (b"Auto-Submitted: auto-replied", b"X-Autoreply: yes", b"Precedence: auto_reply"):
        raw = b"From: anna@client.example\r\n" + header + b"\r\nSubject: Re: booking\r\n\r\nAway\r\n"
        assert dsn.read_report(raw).kind == dsn.AUTO_REPLY, header
    raw = b"From: anna@client.example\r\nSubject: Automatic reply: booking\r\n\r\nAway\r\n"
    assert dsn.read_report(raw).kind == dsn.AUTO_REPLY
    # Auto-Submitted: no is a person's mail (RFC 3834 5).
    raw = b"From: anna@client.example\r\nAuto-Submitted: no\r\nSubject: booking\r\n\r\nHi\r\n"
    assert dsn.read_report(raw).kind == dsn.OTHER


def test_reasons_of_common_replies():
    assert classify("", "550 Host or domain name not found. Name service error for name=client.exampel") == \
        "no_such_domain"
    assert classify("5.7.1", "550 5.7.1 Message rejected under suspicion of SPAM") == "spam"
    assert classify("5.7.1", "550 5.7.1 Email rejected per DMARC policy for alpha.example") == "authentication"
    assert classify("", "552 Message size exceeds fixed maximum message size") == "too_large"
    assert classify("5.2.1", "550 5.2.1 The email account that you tried to reach is inactive") == \
        "mailbox_disabled"
    assert classify("", "something nobody foresaw") == "other"
