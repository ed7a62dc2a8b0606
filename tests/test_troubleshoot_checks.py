"""Each troubleshooting check, both ways, on the agency's real data (and real DNS servers on loopback)."""
import time
from datetime import timedelta

import pytest

from fixtures_dns import DOMAIN
from webapp.extensions import db
from webapp.mailsettings.service import history
from webapp.models import EmailTemplate, OutboxEmail, SendingPause, TestRun
from webapp.models.types import utcnow
from webapp.notification_kinds import ORDER_CHANGE, PAYMENT_PROBLEM, REGISTRATION_CONFIRMATION
from webapp.troubleshoot import checks, overview
from webapp.troubleshoot.service import clear_copies

_serial = iter(range(1, 10_000))


def add_email(agency, status="sent", *, kind=REGISTRATION_CONFIRMATION, hint_code=None, reason="",
              reply="", code=None, age=timedelta(hours=1), language="ru", to="client@example.org"):
    """An outbox row as the sender leaves it, created `age` ago."""
    at = utcnow() - age
    row = OutboxEmail(agency_id=agency.id, kind=kind, dedupe_key=f"test:{next(_serial)}", to_address=to,
                      language=language, status=status, status_reason=reason, hint_code=hint_code,
                      last_code=code, last_reply=reply, created_at=at, updated_at=at,
                      sent_at=at if status == "sent" else None, next_attempt_at=at)
    db.session.add(row)
    db.session.commit()
    return row


def run(agency, check):
    db.session.expire_all()
    return check(checks.make_context(agency))


@pytest.fixture
def sender_in_test_domain(agency):
    settings = agency.mail_settings
    settings.host, settings.port, settings.login = "smtp.example-agency.test", 587, f"office@{DOMAIN}"
    db.session.commit()


# 1. Connection

def test_last_test_unknown_before_any_then_problem_then_ok(agency, admin):
    assert run(agency, checks.check_last_test).status == "unknown"
    db.session.add(TestRun(id="a" * 32, agency_id=agency.id, to_address=agency.email, ok=False,
                           failed_step="auth", hint_code="auth_failed",
                           hint_reply="535 5.7.8 Authentication credentials invalid",
                           created_at=utcnow() - timedelta(minutes=5), finished_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    failed = run(agency, checks.check_last_test)
    assert failed.status == "problem" and failed.link.anchor == "password"
    assert "535 5.7.8" in failed.detail
    db.session.add(TestRun(id="b" * 32, agency_id=agency.id, to_address=agency.email, ok=True,
                           created_at=utcnow(), finished_at=utcnow()))
    db.session.commit()
    assert run(agency, checks.check_last_test).status == "ok"


def test_a_run_of_535_failures_is_a_login_problem(agency):
    assert run(agency, checks.check_connection_failures).status == "ok"
    for _ in range(4):
        add_email(agency, "failed", hint_code="auth_failed", code=535, reason="refused",
                  reply="535 5.7.8 Authentication credentials invalid")
    result = run(agency, checks.check_connection_failures)
    assert result.status == "problem"
    assert "4" in result.title and result.link.anchor == "password"
    assert "Authentication credentials invalid" in result.detail


def test_failures_before_the_last_sent_email_are_history(agency):
    add_email(agency, "failed", hint_code="auth_failed", code=535, age=timedelta(hours=3))
    add_email(agency, "sent", age=timedelta(hours=1))
    assert run(agency, checks.check_connection_failures).status == "ok"


def test_a_paused_channel_is_a_problem(agency):
    assert run(agency, checks.check_sending_pause).status == "ok"
    db.session.add(SendingPause(agency_id=agency.id, hint_code="auth_failed", reply="535 no"))
    db.session.commit()
    result = run(agency, checks.check_sending_pause)
    assert result.status == "problem" and result.link.anchor == "password"


# 2. Templates

def test_templates_in_use_present_then_one_deleted_and_one_disabled(agency):
    context = checks.make_context(agency)
    assert checks.kinds_in_use(context) == [REGISTRATION_CONFIRMATION, ORDER_CHANGE]
    assert checks.check_templates(context).status == "ok"

    db.session.execute(db.delete(EmailTemplate).filter_by(agency_id=agency.id, kind=REGISTRATION_CONFIRMATION,
                                                          language="ru"))
    db.session.execute(db.update(EmailTemplate).filter_by(agency_id=agency.id, kind=ORDER_CHANGE, language="ru")
                       .values(enabled=False))
    db.session.commit()
    result = run(agency, checks.check_templates)
    assert result.status == "problem" and result.link.endpoint == "templates.index"
    assert "(ru): отсутствует" in result.detail and "(ru): выключен" in result.detail


def test_a_kind_and_a_language_count_as_in_use_once_emails_of_them_exist(agency):
    db.session.execute(db.update(EmailTemplate).filter_by(agency_id=agency.id, language="en").values(enabled=False))
    db.session.commit()
    assert run(agency, checks.check_templates).status == "ok"  # nobody is written to in English
    add_email(agency, "sent", language="en")
    assert run(agency, checks.check_templates).status == "problem"


def test_order_changes_are_not_in_use_while_switched_off(agency):
    agency.mail_settings.order_change_emails = False
    db.session.commit()
    assert ORDER_CHANGE not in checks.kinds_in_use(checks.make_context(agency))


# 3. Addresses

def test_agency_address_missing_then_present(agency):
    assert run(agency, checks.check_agency_address).status == "ok"
    agency.email = None
    db.session.commit()
    result = run(agency, checks.check_agency_address)
    assert result.status == "problem" and result.link.anchor == "agency_email"


def test_admin_addresses_need_an_admin(agency, make_user):
    make_user(agency, "clerk@alpha.example", admin=False)
    assert run(agency, checks.check_admin_addresses).status == "problem"
    make_user(agency, "boss@alpha.example")
    result = run(agency, checks.check_admin_addresses)
    assert result.status == "ok" and result.detail == "boss@alpha.example"


def test_payment_events_without_an_address(agency):
    assert run(agency, checks.check_payment_address).status == "ok"
    add_email(agency, "skipped", kind=PAYMENT_PROBLEM, reason="no_recipient", to="")
    result = run(agency, checks.check_payment_address)
    assert result.status == "problem" and result.link.anchor == "payment_problems_email"
    agency.mail_settings.payment_problems_email = "pay@alpha.example"
    db.session.commit()
    assert run(agency, checks.check_payment_address).status == "ok"


# 4. Spam and format

def test_spf_dkim_dmarc_found_on_the_dns_server(app, agency, sender_in_test_domain, dns_server):
    app.config["DNS_NAMESERVERS"] = dns_server().address
    context = checks.make_context(agency)
    spf, dkim, dmarc = (check(context) for check in (checks.check_spf, checks.check_dkim, checks.check_dmarc))
    assert (spf.status, dkim.status, dmarc.status) == ("ok", "ok", "ok")
    assert spf.detail.startswith("v=spf1") and "mail" in dkim.detail and dmarc.detail.startswith("v=DMARC1")


def test_a_domain_without_records_has_problems(app, agency, sender_in_test_domain, dns_server):
    app.config["DNS_NAMESERVERS"] = dns_server({}).address
    context = checks.make_context(agency)
    for check in (checks.check_spf, checks.check_dkim, checks.check_dmarc):
        assert check(context).status == "problem", check.__name__


def test_dns_that_never_answers_could_not_be_checked_with_the_reason(app, agency, sender_in_test_domain,
                                                                   silent_dns_server):
    app.config.update(DNS_NAMESERVERS=silent_dns_server.address, DNS_TIMEOUT=0.5)
    context = checks.make_context(agency)
    started = time.monotonic()
    results = [check(context) for check in (checks.check_spf, checks.check_dkim, checks.check_dmarc)]
    assert [r.status for r in results] == ["unknown"] * 3
    assert all("0.5" in r.title for r in results)  # the reason: no answer within the timeout
    assert time.monotonic() - started < 2  # one timeout, not one per DKIM selector
    assert silent_dns_server.queries


def test_sender_domain_against_login_domain(agency, sender_in_test_domain):
    assert run(agency, checks.check_sender_domain).status == "ok"
    agency.mail_settings.sender_address = "news@other.example"
    db.session.commit()
    result = run(agency, checks.check_sender_domain)
    assert result.status == "problem" and result.link.anchor == "sender_address"


def test_sender_domain_follows_the_sender_rule_and_names_every_empty_field(agency):
    settings = agency.mail_settings
    settings.login, settings.sender_address = "robot", ""
    agency.email = None  # nothing to send from: no check may say the agency address is used
    db.session.commit()
    results = [run(agency, check) for check in (checks.check_sender_domain, checks.check_spf)]
    assert [result.status for result in results] == ["unknown", "unknown"]
    for result in results:
        assert "адрес агентства" in result.detail and result.link.anchor == "sender_address"


def test_recent_spam_rejections(agency):
    assert run(agency, checks.check_spam_rejections).status == "ok"
    add_email(agency, "failed", hint_code="rejected_as_spam", code=550, reply="550 5.7.1 spam detected")
    result = run(agency, checks.check_spam_rejections)
    assert result.status == "problem" and result.link.args["status"] == "failed"


# 5. Duplicates

def test_copies_to_the_agency_address_and_the_one_click_clear(agency, admin):
    assert run(agency, checks.check_copies).status == "ok"
    agency.mail_settings.copies_email = "OFFICE@alpha.example"
    db.session.commit()
    result = run(agency, checks.check_copies)
    assert result.status == "problem" and result.action == "clear_copies"

    assert clear_copies(agency, admin) is True
    assert run(agency, checks.check_copies).status == "ok"
    assert history(agency.id)[0].fields == ["copies_email"] and history(agency.id)[0].user_id == admin.id
    assert clear_copies(agency, admin) is False


# 6. "e-mail not saved"

def test_the_outgoing_host_and_relay_refusals(app, agency):
    app.config["MAIL_EHLO_NAME"] = "mail.console.test"
    result = run(agency, checks.check_outgoing_host)
    assert result.status == "ok" and "mail.console.test" in result.title
    add_email(agency, "failed", hint_code="relay_denied", code=550, reply="550 e-mail not saved")
    result = run(agency, checks.check_outgoing_host)
    assert result.status == "problem" and "mail.console.test" in result.fix


# The delivery overview

def test_overview_counts_per_day_and_top_reasons(agency, make_agency):
    for _ in range(3):
        add_email(agency, "sent")
    add_email(agency, "failed", hint_code="auth_failed", code=535)
    add_email(agency, "failed", hint_code="auth_failed", code=535, age=timedelta(days=2))
    add_email(agency, "skipped", reason="no_template")
    add_email(agency, "sent", age=timedelta(days=40))  # out of the window
    add_email(make_agency("beta"), "failed", hint_code="timeout")  # another agency's

    days = overview.delivery_by_day(agency.id)
    assert len(days) == 30 and days[-1].day == utcnow().date()
    assert (days[-1].sent, days[-1].failed, days[-1].skipped) == (3, 1, 1)
    assert days[-3].failed == 1
    total = overview.totals(days)
    assert (total.sent, total.failed, total.skipped) == (3, 2, 1)
    reasons = overview.top_failure_reasons(agency.id)
    assert [(r.status, r.code, r.count) for r in reasons] == [("failed", "auth_failed", 2),
                                                              ("skipped", "no_template", 1)]
    assert reasons[0].field == "password"

