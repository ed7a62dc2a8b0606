"""Every hint reached by a real failing server, the provider phrases, and the catalogue's translations."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel

from webapp.smtpcheck.engine import run_test
from webapp.smtpcheck.hints import CATALOGUE, FIELDS, classify, hint_for

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
        ("mail_from", 421, "4.7.0", "4.7.0 Try again later, closing connection", "rate_limited"),
        ("mail_from", 450, "4.2.0", "4.2.0 Greylisted", "greylisted"),
        ("greeting", 554, None, "No SMTP service here", "host_blocked"),
    ],
)
def test_classify_known_replies(step, code, enhanced, text, expected):
    assert classify(step, code, enhanced, text).code == expected


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
