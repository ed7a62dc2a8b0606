"""Every hint reached by a real failing server, the provider phrases, and the catalogue's translations."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel

from outbox_helpers import point_agency_at, queue_confirmation, reload
from webapp.extensions import db
from webapp.models import SendingPause, TestRun
from webapp.outbox.sender import PAUSING_HINTS, decision, send_due
from webapp.smtpcheck.connection import SmtpError
from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.hints import (CATALOGUE, FIELDS, PAUSING, PERMANENT, TEMPORARY, classify,
                                    enhanced_code, hint_for)
from webapp.troubleshoot.checks import CONNECTION_HINTS

from fixtures_smtp import TRANSLATIONS_DIR, free_port

AGENCY = "agency@example.com"
LOGIN, PASSWORD = "sender@example.com", "right-password"

CODES = {
    "dns_failure", "connection_refused", "timeout", "tls_mismatch", "starttls_unsupported",
    "certificate_invalid", "tls_required", "auth_requires_tls", "auth_required", "auth_failed",
    "app_password_required", "auth_mechanism_unsupported", "sender_rejected", "relay_denied",
    "recipient_rejected", "mailbox_full", "message_too_large", "rejected_as_spam", "rate_limited",
    "temporary_failure", "server_closed", "host_not_allowed", "unknown",
    "web_login_required", "host_blocked", "message_auth_failed", "greylisted",
}


def failing(result, step: str, code: str, field: str | None = "unchanged"):
    """Assert the run failed at `step` with hint `code` (and `field`), and return the hint."""
    assert not result.ok
    assert (result.failed_step, result.hint.code) == (step, code), result.as_dict()
    assert result.steps[-1].step == step and not result.steps[-1].ok
    assert all(step.ok for step in result.steps[:-1])
    if field != "unchanged":
        assert result.hint.field == field
    return result.hint


# --- reaching the server --------------------------------------------------------------------

def test_a_mistyped_server_name_is_dns_failure(smtp_server):
    settings = smtp_server().settings(host="smtp.no-such-provider.invalid")

    failing(run_test(settings, AGENCY), "resolve", "dns_failure", "host")


def test_a_closed_port_is_connection_refused(smtp_server):
    settings = smtp_server().settings(port=free_port())

    failing(run_test(settings, AGENCY), "connect", "connection_refused", "port")


def test_a_server_that_never_greets_is_timeout(smtp_server, silent_server):
    settings = smtp_server().settings(port=silent_server.port, timeout=0.5)

    failing(run_test(settings, AGENCY), "greeting", "timeout", "port")


def test_an_odd_port_is_refused_before_any_connection(smtp_server, silent_server):
    settings = smtp_server().settings(host="127.0.0.1", port=silent_server.port, allow_private=False)

    hint = failing(run_test(settings, AGENCY), "resolve", "host_not_allowed", "port")

    assert "2525" in str(hint.detail)
    assert not silent_server.connection_attempted()


def test_a_private_address_is_refused_before_any_connection(smtp_server, silent_server_on_2525):
    settings = smtp_server().settings(host="127.0.0.1", port=2525, allow_private=False)

    failing(run_test(settings, AGENCY), "resolve", "host_not_allowed", "host")
    assert not silent_server_on_2525.connection_attempted()


# --- encryption -----------------------------------------------------------------------------

def test_plain_client_on_an_implicit_tls_port_is_told_to_choose_ssl_tls(smtp_server):
    settings = smtp_server(tls="implicit").settings(security="none", timeout=0.5)

    hint = failing(run_test(settings, AGENCY), "greeting", "tls_mismatch", "security")
    assert "implicit TLS" in str(hint.detail) and "SSL/TLS" in str(hint.fix)


def test_starttls_client_on_an_implicit_tls_port_is_told_the_same(smtp_server):
    settings = smtp_server(tls="implicit").settings(security="starttls", timeout=0.5)

    hint = failing(run_test(settings, AGENCY), "greeting", "tls_mismatch", "security")
    assert "implicit TLS" in str(hint.detail)


def test_tls_client_on_a_plain_port_is_told_the_port_starts_unencrypted(smtp_server):
    settings = smtp_server().settings(security="tls")

    hint = failing(run_test(settings, AGENCY), "tls", "tls_mismatch", "security")
    assert "starts unencrypted" in str(hint.detail) and "STARTTLS" in str(hint.fix)


def test_starttls_chosen_but_not_offered(smtp_server):
    settings = smtp_server().settings(security="starttls")

    failing(run_test(settings, AGENCY), "starttls", "starttls_unsupported", "security")


@pytest.mark.parametrize(("tls", "security", "step"), [("starttls", "starttls", "starttls"), ("implicit", "tls", "tls")])
def test_an_untrusted_certificate_is_certificate_invalid(smtp_server, tls, security, step):
    settings = smtp_server(tls=tls).settings(security=security, ca_file=None)  # system store only

    result = run_test(settings, AGENCY)

    failing(result, step, "certificate_invalid", "host")
    assert "certificate" in result.steps[-1].reply


def test_a_name_missing_from_the_certificate_is_certificate_invalid(smtp_server):
    server = smtp_server(tls="implicit")
    server.host = "127.1"  # resolves to 127.0.0.1, yet TLS checks it as a name the certificate lacks

    result = run_test(server.settings(security="tls"), AGENCY)

    failing(result, "tls", "certificate_invalid", "host")
    assert "Hostname mismatch" in result.steps[-1].reply


def test_a_server_requiring_starttls_is_tls_required(smtp_server):
    settings = smtp_server(tls="starttls", require_starttls=True).settings(security="none")

    failing(run_test(settings, AGENCY), "mail_from", "tls_required", "security")


# --- logging in -----------------------------------------------------------------------------

def test_auth_hidden_until_starttls_is_auth_requires_tls(smtp_server):
    server = smtp_server(tls="starttls", login=LOGIN, password=PASSWORD)  # Postfix smtpd_tls_auth_only

    hint = failing(run_test(server.settings(login=LOGIN, password=PASSWORD), AGENCY), "auth", "auth_requires_tls")
    assert hint.field == "security" and "STARTTLS" in str(hint.fix)
    assert server.handler.auth_attempts == []


def test_a_server_requiring_login_is_auth_required(smtp_server):
    settings = smtp_server(tls="starttls", auth_required=True).settings(security="starttls")

    failing(run_test(settings, AGENCY), "mail_from", "auth_required", "login")


def test_a_wrong_password_is_auth_failed(smtp_server):
    server = smtp_server(tls="implicit", login=LOGIN, password=PASSWORD)

    result = run_test(server.settings(security="tls", login=LOGIN, password="wrong"), AGENCY)

    failing(result, "auth", "auth_failed", "password")
    assert result.steps[-1].code == 535 and result.steps[-1].enhanced == "5.7.8"


@pytest.mark.parametrize(
    ("reply", "code", "field"),
    [
        ("535 5.7.0 Authentication credentials invalid", "auth_failed", "password"),  # the seed's Postfix case
        ("535 5.7.8 Username and Password not accepted. Learn more", "auth_failed", "password"),  # Gmail
        ("534 5.7.9 Application-specific password required. Learn more", "app_password_required", "password"),
        ("535 5.7.8 Error: authentication failed: This user does not have access rights to this service",
         "app_password_required", "password"),  # Yandex
        ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
         "auth_mechanism_unsupported", None),  # Office 365
    ],
)
def test_provider_auth_refusals(smtp_server, reply, code, field):
    server = smtp_server(tls="starttls", login=LOGIN, password=PASSWORD, replies={"AUTH": reply})

    result = run_test(server.settings(security="starttls", login=LOGIN, password=PASSWORD), AGENCY)

    failing(result, "auth", code, field)


def test_no_password_mechanism_offered_is_auth_mechanism_unsupported(smtp_server):
    server = smtp_server(tls="starttls", login=LOGIN, password=PASSWORD, auth_exclude_mechanism=["PLAIN", "LOGIN"])

    result = run_test(server.settings(security="starttls", login=LOGIN, password=PASSWORD), AGENCY)

    failing(result, "auth", "auth_mechanism_unsupported")
    assert server.handler.auth_attempts == []


# --- the transaction ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("command", "reply", "step", "code", "field"),
    [
        ("MAIL", "553 5.7.1 Sender address rejected: not owned by user", "mail_from", "sender_rejected", "sender_address"),
        ("MAIL", "550 5.7.1 Sender address must match authenticated user", "mail_from", "sender_rejected", "sender_address"),
        ("RCPT", "554 5.7.1 <agency@example.com>: Relay access denied", "rcpt_to", "relay_denied", "login"),
        ("RCPT", "550 5.1.1 <agency@example.com>: Recipient address rejected: User unknown", "rcpt_to",
         "recipient_rejected", "agency_email"),
        ("RCPT", "552 5.2.2 Mailbox full", "rcpt_to", "mailbox_full", "agency_email"),
        ("DATA", "552 5.3.4 Message too big", "data", "message_too_large", None),
        ("DATA", "554 5.7.1 Message rejected as spam", "data", "rejected_as_spam", "sender_address"),
        ("MAIL", "451 4.7.1 Too many messages, slow down", "mail_from", "rate_limited", None),
        ("MAIL", "451 4.3.0 Temporary local problem", "mail_from", "temporary_failure", None),
        ("DATA", "550 5.0.0 Internal policy error 0x2F", "data", "unknown", None),
    ],
)
def test_transaction_refusals(smtp_server, command, reply, step, code, field):
    server = smtp_server(replies={command: reply})

    result = run_test(server.settings(), AGENCY)

    failing(result, step, code, field)
    assert result.steps[-1].code == int(reply[:3])
    assert server.handler.received == []


def test_relay_denied_names_this_installations_host(smtp_server):
    server = smtp_server(replies={"RCPT": "554 5.7.1 <agency@example.com>: Relay access denied"})

    hint = failing(run_test(server.settings(ehlo_name="sys.agency-booking.example"), AGENCY), "rcpt_to", "relay_denied")

    assert "sys.agency-booking.example" in str(hint.detail)


def test_unknown_carries_the_raw_reply(smtp_server):
    server = smtp_server(replies={"DATA": "550 5.0.0 Internal policy error 0x2F"})

    hint = failing(run_test(server.settings(), AGENCY), "data", "unknown")

    assert hint.reply == "550 5.0.0 Internal policy error 0x2F"
    assert "Internal policy error 0x2F" in str(hint.detail)


def test_a_message_over_the_announced_size_is_refused_at_mail_from(smtp_server):
    server = smtp_server(data_size_limit=200)

    failing(run_test(server.settings(), AGENCY), "mail_from", "message_too_large")


def test_a_server_hanging_up_is_server_closed(smtp_server):
    settings = smtp_server(hang_up_on_ehlo=True).settings()

    failing(run_test(settings, AGENCY), "ehlo", "server_closed")


# --- the classifier on its own --------------------------------------------------------------

@pytest.mark.parametrize(
    ("step", "code", "enhanced", "text", "expected"),
    [
        ("auth", 535, "5.7.8", "5.7.8 Error: authentication failed: Invalid user or password!", "auth_failed"),  # Yandex
        ("auth", 535, None, "Authentication failed", "auth_failed"),  # Mail.ru
        ("auth", 535, "5.7.0", "5.7.0 NEOBHODIM parol prilozheniya / Application password is REQUIRED",
         "app_password_required"),  # Mail.ru
        ("auth", 535, "5.7.3", "5.7.3 Authentication unsuccessful, basic authentication is disabled",
         "auth_mechanism_unsupported"),  # Office 365
        ("auth", 538, "5.7.11", "5.7.11 Encryption required for requested authentication mechanism",
         "auth_requires_tls"),
        ("mail_from", 530, "5.7.0", "5.7.0 Must issue a STARTTLS command first", "tls_required"),
        ("mail_from", 530, "5.7.1", "5.7.1 Authentication required", "auth_required"),
        ("rcpt_to", 550, None, "SMTP AUTH is required for message submission on port 587", "auth_required"),  # Exim
        ("mail_from", 553, "5.7.1", "5.7.1 Sender address rejected: not owned by auth user.", "sender_rejected"),
        ("mail_from", 550, None, "not local sender over smtp", "sender_rejected"),  # Mail.ru
        ("rcpt_to", 550, "5.7.60", "5.7.60 SMTP; Client does not have permissions to send as this sender",
         "sender_rejected"),  # Office 365
        ("rcpt_to", 554, "5.7.1", "5.7.1 <a@b.c>: Relay access denied", "relay_denied"),  # Postfix
        ("rcpt_to", 550, "5.7.1", "5.7.1 Unable to relay", "relay_denied"),
        ("rcpt_to", 550, "5.1.1", "5.1.1 The email account that you tried to reach does not exist", "recipient_rejected"),
        ("data", 552, "5.2.2", "5.2.2 The email account that you tried to reach is over quota", "mailbox_full"),
        ("data", 552, None, "Error: message size exceeds fixed maximum message size", "message_too_large"),
        ("data", 550, "5.7.1", "5.7.1 Message content rejected", "rejected_as_spam"),
        ("data", 554, "5.7.1", "5.7.1 Our system has detected this message is likely spam", "rejected_as_spam"),
        ("rcpt_to", 550, "5.4.5", "5.4.5 Daily user sending quota exceeded", "rate_limited"),  # Gmail
        ("mail_from", 421, "4.7.0", "4.7.0 Try again later, closing connection", "temporary_failure"),
        ("mail_from", 450, "4.2.0", "4.2.0 Greylisted", "greylisted"),
        ("greeting", 554, None, "No SMTP service here", "host_blocked"),
    ],
)
def test_classify_known_replies(step, code, enhanced, text, expected):
    assert classify(step, code, enhanced, text).code == expected


@pytest.mark.parametrize(("text", "enhanced"), [
    ("5.1.1 User unknown", "5.1.1"),
    ("550 5.7.1 Relay access denied", "5.7.1"),
    ("5.7.0, Mail Sending denied.", "5.7.0"),
    ("sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", "5.7.1"),  # qmail
    ("Rejected: mail from 5.1.1.1 listed at zen.spamhaus.org", None),  # an IP address
    ("5.1.1.1 is listed at zen.spamhaus.org", None),
    ("mx.example.com ESMTP Exim 4.96.2 too many connections from your host", None),  # a version
])
def test_the_enhanced_code_is_read_only_where_rfc_3463_puts_it(text, enhanced):
    assert enhanced_code(text) == enhanced


def test_an_ip_address_in_the_text_is_not_read_as_a_status_code():
    hint = classify("rcpt_to", 554, None, "Rejected: mail from 5.1.1.1 listed at zen.spamhaus.org")

    assert hint.code == "host_blocked"  # not "5.1.1 bad destination mailbox"


def test_the_session_records_qmails_enhanced_code_as_the_classifier_reads_it(smtp_server):
    server = smtp_server(replies={"RCPT": "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"})

    result = run_test(server.settings(), AGENCY)

    failing(result, "rcpt_to", "relay_denied")
    assert result.steps[-1].enhanced == "5.7.1"


def test_the_seed_e_mail_not_saved_error_is_relay_denied():
    assert classify("data", None, None, "Ошибка: e-mail не сохранен").code == "relay_denied"


# --- the catalogue ----------------------------------------------------------------------------

def test_the_catalogue_has_exactly_the_agreed_codes_each_complete():
    assert set(CATALOGUE) == CODES
    for code in CODES:
        hint = hint_for(code, ehlo_name="sys.example.net", reply="599 odd")
        assert hint.code == code and hint.field in FIELDS | {None}
        assert all(str(text).strip() for text in (hint.title, hint.detail, hint.fix))


def msgids_in_engine() -> set[str]:
    keywords = {"_l": None, "lazy_gettext": None, "gettext": None}
    package = TRANSLATIONS_DIR.parent
    return {
        message
        for module in ("hints.py", "message.py", "connection.py", "engine.py", "guard.py")
        for _, message, _, _ in extract_from_file("python", package / module, keywords=keywords)
    }


def test_every_text_has_a_russian_translation():
    with open(TRANSLATIONS_DIR / "ru" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}

    assert msgids_in_engine() - translated == set()


def test_hints_render_in_russian_in_a_russian_request(smtpcheck_translations):
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(smtpcheck_translations)
    Babel(app, locale_selector=lambda: "ru")

    with app.test_request_context():
        hint = hint_for("relay_denied", ehlo_name="sys.nemo-ibe.com")
        assert str(hint.title) == "Сервер не пересылает письма для этой системы"
        assert "sys.nemo-ibe.com" in str(hint.detail) and "почтовый сервис" in str(hint.detail)


def test_hint_texts_are_english_outside_a_request():
    assert str(hint_for("auth_failed").title) == "Login or password not accepted"


# --- the corpus of real replies (tests/data/smtp_replies.csv) ---------------------------------

CORPUS = Path(__file__).parent / "data" / "smtp_replies.csv"
STEPS = {"greeting", "ehlo", "starttls", "auth", "mail_from", "rcpt_to", "data"}


def load_corpus() -> list[dict]:
    with CORPUS.open(encoding="utf-8", newline="") as lines:
        return list(csv.DictReader(line for line in lines if not line.startswith("#")))


REPLIES = load_corpus()


def entry_id(entry: dict) -> str:
    return f"{entry['provider']}-{entry['step']}-{entry['code']}-{entry['text'][:40]}"


def diagnose(entry: dict):
    """What the test page shows for a reply: the step's code and text, as the session reads them."""
    return classify(entry["step"], int(entry["code"]), None, entry["text"])


def real(step: str, code: int, text: str) -> dict:
    """A reply of the corpus, found by its exact text: the class tests below stay on real replies."""
    matches = [e for e in REPLIES if (e["step"], int(e["code"]), e["text"]) == (step, code, text)]
    assert matches, f"not in the corpus: {code} {text}"
    return matches[0]


def test_the_corpus_holds_at_least_150_real_replies_each_with_its_source():
    assert len(REPLIES) >= 150
    assert len({entry["provider"] for entry in REPLIES}) >= 10
    for entry in REPLIES:
        assert entry["source"].startswith(("https://", "http://")), entry
        assert entry["step"] in STEPS and 400 <= int(entry["code"]) < 600 and entry["text"].strip(), entry
        assert entry["expected"] in CATALOGUE, entry


@pytest.mark.parametrize("entry", REPLIES, ids=entry_id)
def test_every_real_reply_gets_its_expected_hint(entry):
    assert diagnose(entry).code == entry["expected"]


def test_no_4xx_reply_is_diagnosed_as_permanent_or_as_a_field_to_change():
    deferrals = [entry for entry in REPLIES if entry["code"].startswith("4")]
    assert len(deferrals) >= 50
    for entry in deferrals:
        hint = diagnose(entry)
        assert hint.temporary and not hint.permanent and not hint.pausing, entry
        assert hint.field is None and sender_decision(entry, hint) == "retry", entry


def sender_decision(entry: dict, hint) -> str:
    """What webapp.outbox.sender does with this failure: its own decision, on the error it gets."""
    return decision(SmtpError(entry["step"], int(entry["code"]), enhanced_code(entry["text"]), entry["text"], hint))


OUTCOME = {TEMPORARY: "retry", PERMANENT: "fail", PAUSING: "pause"}


def test_the_sender_decides_as_the_test_page_says_on_the_whole_corpus():
    for entry in REPLIES:
        hint = diagnose(entry)
        assert sender_decision(entry, hint) == OUTCOME[hint.kind], (entry, hint.code, hint.kind)


# The same, end to end: a real server gives the real reply at its step to the test email and to
# a queued notification; the sender's outcome is the one the test page announces. One reply for
# each step, reply class and hint of the corpus (the test above covers every reply).
SCRIPTED = {"auth": "AUTH", "mail_from": "MAIL", "rcpt_to": "RCPT", "data": "DATA"}
SCRIPTABLE = list({(entry["step"], entry["code"][0], entry["expected"]): entry for entry in REPLIES
                   if entry["step"] in SCRIPTED and entry["text"].isascii() and "{" not in entry["text"]}.values())


@pytest.mark.parametrize("entry", SCRIPTABLE, ids=entry_id)
def test_a_real_reply_makes_the_sender_do_what_the_test_page_says(entry, agency, smtp_server):
    reply = f"{entry['code']} {entry['text']}"
    login = {"login": LOGIN, "password": PASSWORD} if entry["step"] == "auth" else {}
    server = smtp_server(replies={SCRIPTED[entry["step"]]: reply}, **login)

    page = run_test(server.settings(**login), AGENCY)
    point_agency_at(agency, server, **login)
    row = queue_confirmation(agency)
    send_due(agency.id)

    assert (page.failed_step, page.hint.code) == (entry["step"], entry["expected"])
    pause = db.session.execute(db.select(SendingPause).filter_by(agency_id=agency.id)).scalar_one_or_none()
    row = reload(row)
    outcome = "pause" if pause else {"queued": "retry", "failed": "fail"}[row.status]
    assert outcome == OUTCOME[page.hint.kind]
    assert (pause.hint_code if pause else row.hint_code) == page.hint.code


@pytest.mark.parametrize(("step", "code", "enhanced", "hint_code", "outcome"), [
    ("connect", None, None, "timeout", "retry"),
    ("greeting", 554, None, "host_blocked", "pause"),
    ("auth", 535, "5.7.8", "auth_failed", "pause"),
    ("auth", 454, "4.7.0", "temporary_failure", "retry"),
    ("ehlo", None, None, "unknown", "pause"),  # a permanent failure before MAIL FROM repeats for every email
    ("mail_from", 530, "5.7.0", "auth_required", "pause"),
    ("rcpt_to", 550, "5.1.1", "recipient_rejected", "fail"),
    ("rcpt_to", 452, "4.2.2", "mailbox_full", "retry"),
    ("data", None, None, "server_closed", "retry"),
])
def test_the_senders_decision_follows_the_hints_kind(step, code, enhanced, hint_code, outcome):
    hint = hint_for(hint_code, step=step, reply_code=code)
    error = SmtpError(step, code, enhanced, "reply", hint)

    assert decision(error) == outcome


def test_a_sending_quota_refused_at_mail_from_holds_every_email_instead_of_failing_them(agency, smtp_server):
    server = smtp_server(replies={"MAIL": "550 5.4.5 Daily user sending quota exceeded."})  # Gmail
    point_agency_at(agency, server)
    rows = [queue_confirmation(agency), queue_confirmation(agency)]

    page = run_test(server.settings(), AGENCY)
    report = send_due(agency.id)

    assert (page.hint.code, page.hint.kind) == ("rate_limited", "pausing")
    assert report.failing and report.failed == 0
    failure = db.session.execute(db.select(SendingPause).filter_by(agency_id=agency.id)).scalar_one()
    assert failure.hint_code == "rate_limited"
    assert [(row.status, row.status_reason) for row in map(reload, rows)] == [("queued", "settings_failing")] * 2


@pytest.mark.parametrize(("step", "code", "text", "expected"), [
    ("rcpt_to", 421, "4.7.0 TLS required for RCPT domain, closing connection.", "tls_required"),  # Gmail
    ("rcpt_to", 421, "4.7.0 IP not in whitelist for RCPT domain, closing connection.", "host_blocked"),  # Gmail
    ("data", 421, "4.7.0 Connection expired, try reconnecting. For more information, go to About SMTP error messages. https://support.google.com/a/answer/3221692", "temporary_failure"),  # Gmail
    ("greeting", 450, "4.7.1 Client host rejected: cannot find your reverse hostname", "host_blocked"),  # bytecamp
    ("data", 451, "4.7.1 Service unavailable - try again later", "temporary_failure"),  # Plesk
])
def test_a_4_7_x_deferral_is_labelled_by_what_it_says_not_as_too_many_messages(step, code, text, expected):
    hint = diagnose(real(step, code, text))

    assert hint.code == expected != "rate_limited"
    assert hint.temporary and hint.field is None


def test_the_corpus_cites_no_content_farm_or_mirror():
    for entry in REPLIES:
        assert not any(farm in entry["source"] for farm in (
            "viws.ru", "freeport-outlet.ru", "my.vedova.net", "workers.dev")), entry


def test_the_sender_pauses_and_troubleshooting_counts_by_the_catalogue():
    assert PAUSING_HINTS == {code for code, hint in CATALOGUE.items() if hint.kind == PAUSING}
    assert {"web_login_required", "host_blocked"} <= PAUSING_HINTS
    assert {"greylisted", "rate_limited", "temporary_failure", "message_auth_failed"}.isdisjoint(PAUSING_HINTS)
    assert PAUSING_HINTS <= CONNECTION_HINTS
    assert {"dns_failure", "timeout", "server_closed", "connection_refused"} <= CONNECTION_HINTS
    assert "relay_denied" not in CONNECTION_HINTS  # troubleshooting has its own check for it


# --- the five kinds of miss of issue 20, each on real replies of several providers -------------

@pytest.mark.parametrize(("step", "code", "text"), [
    ("rcpt_to", 450, "Requested mail action not taken: mailbox unavailable"),  # RFC 5321
    ("mail_from", 450, "<foo@bad.domain>: Sender address rejected: Domain not found"),  # Postfix
    ("rcpt_to", 452, "4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to this article."),  # Gmail
    ("rcpt_to", 451, "4.4.62 Mail sent to the wrong Office 365 region. ATTR35. For more information please go to https://go.microsoft.com/fwlink/?linkid=865268 [#.prod.protection.outlook.com]"),  # Microsoft
    ("rcpt_to", 421, "4.7.0 TLS required for RCPT domain, closing connection."),  # Gmail
    ("rcpt_to", 421, "temporary envelope failure (#4.3.0)"),  # qmail
])
def test_a_temporary_reply_is_never_read_as_a_permanent_diagnosis(step, code, text):
    hint = diagnose(real(step, code, text))

    assert hint.temporary and hint.field is None
    assert hint.code not in {"recipient_rejected", "sender_rejected"}
    assert "retried by themselves" in str(hint.consequence)


@pytest.mark.parametrize(("code", "text", "expected"), [
    (553, "sorry, your envelope sender is in my badmailfrom list (#5.7.1)", "sender_rejected"),  # qmail
    (554, "<foo@bad.domain>: Sender address rejected: match bad.domain", "sender_rejected"),  # Postfix
    (553, "5.7.1 <contact@151softworks.com>: Sender address rejected: not logged in", "auth_required"),  # Postfix
    (550, "5.7.1 Client does not have permission to send as this sender", "sender_rejected"),  # Microsoft
    (550, "5.7.1 SPF check failed: IP_host is not authorized to send in the name of domain_name. (in reply to RCPT TO command)", "message_auth_failed"),  # Yandex
    (554, "<bad.domain>: Helo command rejected: match bad.domain", "host_blocked"),  # Postfix
])
def test_a_cause_behind_the_recipient_step_is_not_read_as_a_refused_recipient(code, text, expected):
    hint = diagnose(real("rcpt_to", code, text))

    assert hint.code == expected
    assert hint.at_fault != "agency" and hint.field != "agency_email"


@pytest.mark.parametrize(("step", "code", "text", "expected"), [
    ("auth", 535, "5.7.1 Please log in with your web browser and then try again.", "web_login_required"),  # Gmail
    ("mail_from", 550, "message sending for this account is disabled", "web_login_required"),  # Mail.ru
    ("auth", 535, "5.7.1 Application-specific password required. For more information, visit https://support.google.com/accounts/answer/185833", "app_password_required"),  # Gmail
    ("auth", 534, "5.7.9  Authentication mechanism is too weak", "auth_mechanism_unsupported"),  # RFC 4954
])
def test_a_demanded_web_sign_in_or_app_password_is_not_a_wrong_password(step, code, text, expected):
    hint = diagnose(real(step, code, text))

    assert hint.code == expected != "auth_failed"
    assert hint.pausing  # every email would fail the same way: sending waits, it does not hammer the login


def test_the_web_sign_in_hint_says_retyping_the_password_will_not_help():
    hint = hint_for("web_login_required")
    assert "will not help" in str(hint.detail) and "web browser" in str(hint.fix)


@pytest.mark.parametrize(("code", "text"), [
    (550, "5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM."),  # Yahoo
    (550, "5.7.26 Unauthenticated email from domain-name is not accepted due to domain's DMARC policy. Please contact the administrator of domain-name domain. If this was a legitimate mail please visit Control unauthenticated mail from your domain to learn about the DMARC initiative."),  # Gmail
    (550, "5.7.26 This message fails to pass SPF checks for an SPF record with a hard fail policy (-all). To best protect our users from spam and phishing, the message has been blocked. Please visit Prevent mail to Gmail users from being blocked or sent to spam for more information."),  # Gmail
    (550, "5.7.515 Access denied, sending domain EXAMPLE.JP doesn't meet the required authentication level. The sender's domain in the 5322.From address doesn't meet the authentication requirements defined for the sender. To learn how to fix this see: https://go.microsoft.com/fwlink/p/?linkid=2319303"),  # Microsoft
    (550, "5.7.1 This message was not accepted due to domain (mail.ru) owner DMARC policy (RFC 7489) https://help.mail.ru/mail-help/postmaster/dmarc"),  # Mail.ru
    (550, "5.1.0 192.0.2.222 is not allowed to send from <example.net> per it's SPF Record"),  # sisimai
])
def test_message_authentication_is_not_smtp_authentication(code, text):
    hint = diagnose(real("data", code, text))

    assert hint.code == "message_auth_failed"
    assert hint.at_fault == "sender" and not hint.pausing
    assert "troubleshooting page" in str(hint.fix) and "SPF, DKIM and DMARC" in str(hint.fix)


@pytest.mark.parametrize("text", [
    "<random.bad.domain[123.123.123.123]>: Client host rejected: match bad.domain",  # Postfix
    "Service unavailable; Client host [127.0.0.2] blocked using blackholes.mail-abuse.org; Blackholed - see <URL:http://mail-abuse.org/cgi-bin/lookup?127.0.0.2>",  # Postfix RBL
    "5.7.1 Service unavailable; Client host [] blocked",  # Microsoft
    "No SMTP service here",  # RFC 5321
])
def test_a_refusal_at_the_greeting_says_this_installation_is_blocked(text):
    (entry,) = [e for e in REPLIES if e["step"] == "greeting" and e["text"] == text]
    hint = classify("greeting", int(entry["code"]), None, text, ehlo_name="sys.agency-booking.example")

    assert hint.code == "host_blocked" and hint.pausing
    assert "sys.agency-booking.example" in str(hint.detail)
    assert "Write to the provider" in str(hint.fix) and "blocklist" in str(hint.fix)


@pytest.mark.parametrize(("step", "code", "text"), [
    ("greeting", 553, "5.7.1 [BL21] Connections will not be accepted from 192.0.2.25, because the ip is in Spamhaus's list; see http://postmaster.yahoo.com/550-bl23.html"),  # Yahoo
    ("greeting", 550, "Access from ip address 192.0.2.1 blocked."),
    ("data", 550, "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to https://go.microsoft.com/fwlink/?LinkID=526655 AS(7171)"),  # Microsoft
])
def test_this_installation_blocked_is_recognised_at_any_step(step, code, text):
    assert diagnose(real(step, code, text)).code == "host_blocked"


# Postfix-style recipient refusals that also use the words of a block: they are about the
# client's address, so one client's bad address must not pause the whole agency's sending.
@pytest.mark.parametrize(("step", "code", "text"), [
    ("rcpt_to", 550, "5.1.1 <anna@client.example>: Recipient address rejected: address not listed in our directory"),
    ("rcpt_to", 550, "5.1.10 <anna@client.example>: Recipient address rejected: Domain has null MX, listed in no MX"),
    ("rcpt_to", 550, "5.2.1 <anna@client.example>: mailbox disabled, listed on the blocklist of closed accounts"),
    ("rcpt_to", 554, "<anna@client.example>: Recipient address rejected: blacklisted recipient"),
    ("data", 550, "5.7.1 <anna@client.example>: Recipient address rejected: listed in local blocklist"),
])
def test_a_refused_client_address_is_not_this_installation_blocked(step, code, text):
    hint = classify(step, code, None, text, recipient="client")

    assert hint.code != "host_blocked" and not hint.pausing
    if step == "rcpt_to":
        assert hint.code == "recipient_rejected" and hint.at_fault == "client" and hint.field is None


@pytest.mark.parametrize(("step", "code", "text"), [
    ("mail_from", 550, "5.7.1 Your IP 192.0.2.1 is listed in our blacklist"),
    ("ehlo", 550, "5.7.1 Host listed at zen.spamhaus.org"),
    ("rcpt_to", 554, "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"),
    ("data", 550, "5.7.1 Message rejected: 192.0.2.1 is listed on a block list"),
])
def test_a_listed_address_of_this_installation_still_pauses(step, code, text):
    hint = classify(step, code, None, text)

    assert hint.code == "host_blocked" and hint.pausing


@pytest.mark.parametrize(("code", "text"), [
    (422, "4.2.2 Greylisted, please try again in a few moments."),  # Stalwart
    (450, "4.2.0 Recipient address rejected: Greylisted"),  # Postfix with postgrey
])
def test_greylisting_is_temporary_and_asks_for_nothing(code, text):
    hint = diagnose(real("rcpt_to", code, text))

    assert hint.code == "greylisted" and hint.temporary and hint.field is None
    assert str(hint.fix).startswith("Nothing to do")


def test_a_4xx_with_a_known_cause_says_it_is_retried_not_what_to_change(smtpcheck_translations):
    deferrals = [entry for entry in REPLIES if entry["code"].startswith("4")
                 and CATALOGUE[entry["expected"]].kind != TEMPORARY]
    assert {entry["expected"] for entry in deferrals} >= {"mailbox_full", "message_auth_failed"}
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(smtpcheck_translations)
    Babel(app, locale_selector=lambda: "ru")
    for entry in deferrals:
        for role in ("agency", "client", "copies", "payment_problems"):
            hint = classify(entry["step"], int(entry["code"]), None, entry["text"], recipient=role)
            fix = str(hint.fix)
            assert "sent again by itself" in fix, (entry, role, fix)
            assert not any(change in fix for change in ("enter another", "Leave the sender address empty",
                                                        "Free some space")), (entry, role, fix)
            with app.test_request_context():
                assert "отправится повторно само" in str(hint.fix)


def test_the_seeds_535_says_the_mail_server_is_at_fault_when_the_login_is_right(smtpcheck_translations):
    hint = diagnose(real("auth", 535, "5.7.0 Authentication credentials invalid"))
    assert hint.code == "auth_failed"
    assert "mail server's side" in str(hint.detail) and "write to the provider" in str(hint.fix)

    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(smtpcheck_translations)
    Babel(app, locale_selector=lambda: "ru")
    with app.test_request_context():
        assert "проблемы на стороне почтового сервера" in str(hint.detail)
        assert "напишите провайдеру" in str(hint.fix)


@pytest.mark.parametrize(("role", "title", "field"), [
    ("agency", "The recipient address was refused", "agency_email"),
    ("client", "The client's address was refused", None),
    ("copies", "The address for copies was refused", "copies_email"),
    ("payment_problems", "The address for payment problems was refused", "payment_problems_email"),
])
def test_a_refused_recipient_is_named_by_its_role(role, title, field):
    hint = classify("rcpt_to", 550, "5.1.1", "5.1.1 Unknown User", recipient=role)

    assert (str(hint.title), hint.field, hint.at_fault) == (title, field, role)


def test_the_coverage_table_in_the_docs_is_made_from_the_current_corpus():
    path = Path(__file__).parent.parent / "scripts" / "diagnosis_table.py"
    spec = importlib.util.spec_from_file_location("diagnosis_table", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    document = script.DOC.read_text(encoding="utf-8")
    assert script.rendered(document, load_corpus()) == document, "run: python scripts/diagnosis_table.py"
    assert f"{len(REPLIES)} real replies" in document
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"tested on {len(REPLIES)} real SMTP replies" in readme


# --- the test page says what the sender will do -------------------------------------------------

def page_result(client, run_worker) -> str:
    """Start a test email from the mail-settings page, run it, and return the result it streams."""
    client.post("/mail-settings/test", headers={"HX-Request": "true"})
    run_worker()
    run = db.session.execute(db.select(TestRun)).scalar_one()
    body = client.get(f"/mail-settings/test/{run.id}/stream").get_data(as_text=True)
    (result,) = [block for block in body.split("\n\n") if "event: result" in block]
    return result


@pytest.mark.parametrize(("replies", "login", "code", "kind", "says"), [
    ({"RCPT": "450 4.2.0 Recipient address rejected: Greylisted"}, False, "greylisted", "temporary",
     "отправляются повторно сами"),
    ({"DATA": "550 5.7.1 This message was not accepted due to domain owner DMARC policy (RFC 7489) "
              "https://help.mail.ru/mail-help/postmaster/dmarc"}, False, "message_auth_failed", "permanent",
     "/troubleshooting#check-spf"),
    ({"AUTH": "535 5.7.0 Authentication credentials invalid"}, True, "auth_failed", "pausing",
     "отправка приостанавливается"),
])
def test_the_test_page_says_what_happens_to_notifications(admin_client, agency, smtp_server, run_worker,
                                                          replies, login, code, kind, says):
    credentials = {"login": LOGIN, "password": PASSWORD} if login else {}
    point_agency_at(agency, smtp_server(replies=replies, **credentials), **credentials)

    result = page_result(admin_client, run_worker)

    assert f'data-hint="{code}"' in result and f'data-kind="{kind}"' in result
    assert says in result
