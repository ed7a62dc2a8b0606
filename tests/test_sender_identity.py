"""Who mail comes from: one rule for notifications, the test email and the checks — the sender
address, else the login when it is an address, else the agency's own; never a recipient's."""
import email
from email import policy

from conftest import sign_in
from outbox_helpers import point_agency_at, queue_confirmation, reload
from webapp.extensions import db
from webapp.models import SendingPause
from webapp.notification_kinds import PAYMENT_PROBLEM, sample_context
from webapp.outbox.service import queue_email, wake
from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.message import NoSenderAddress, sender_identity
from webapp.troubleshoot import checks


def _received(server, number=0):
    received = server.handler.received[number]
    return received, email.message_from_bytes(received.content, policy=policy.default)


def _empty_login_and_sender(agency):
    agency.mail_settings.login = ""
    agency.mail_settings.sender_address = ""
    db.session.commit()


def test_a_client_email_without_login_or_sender_comes_from_the_agency(agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    _empty_login_and_sender(agency)  # what the "sender refused" hint tells the admin to do

    row = queue_confirmation(agency, to="anna@client.example")
    run_worker()

    received, message = _received(server)
    assert message["From"].addresses[0].addr_spec == "office@alpha.example"
    assert message["From"].addresses[0].display_name == "Альфа-Тур"
    assert received.mail_from == "office@alpha.example"
    assert message["Message-ID"].endswith("@alpha.example>")
    assert "client.example" not in str(message["From"]) + received.mail_from + message["Message-ID"]
    assert reload(row).status == "sent"


def test_the_payment_problem_alert_does_not_come_from_its_own_recipient(agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    _empty_login_and_sender(agency)
    agency.mail_settings.payment_problems_email = "cashier@alpha-pay.example"
    db.session.commit()

    queue_email(agency.id, PAYMENT_PROBLEM, "cashier@alpha-pay.example",
                sample_context(PAYMENT_PROBLEM), "payment:1")
    db.session.commit()
    wake(agency.id)
    run_worker()

    received, message = _received(server)
    assert received.rcpt_tos == ["cashier@alpha-pay.example"]
    assert message["From"].addresses[0].addr_spec == "office@alpha.example"
    assert received.mail_from == "office@alpha.example"


def test_the_login_mailbox_is_the_sender_when_no_sender_address_is_set(agency, smtp_server, run_worker):
    server = smtp_server(login="robot@alpha-mail.example", password="pw")
    point_agency_at(agency, server, login="robot@alpha-mail.example", password="pw")
    agency.mail_settings.sender_address = ""
    db.session.commit()

    queue_confirmation(agency)
    run_worker()

    received, message = _received(server)
    assert message["From"].addresses[0].addr_spec == received.mail_from == "robot@alpha-mail.example"
    assert message["Message-ID"].endswith("@alpha-mail.example>")


def test_with_no_address_to_send_from_nothing_goes_out_and_sending_waits(agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    _empty_login_and_sender(agency)
    agency.email = None
    db.session.commit()

    row = queue_confirmation(agency, to="anna@client.example")
    run_worker()

    assert server.handler.received == []
    assert reload(row).status == "queued"
    assert db.session.get(SendingPause, agency.id) is not None


def test_yandex_and_mail_ru_send_with_the_login_as_envelope_sender():
    base = dict(port=465, security="tls", login="robot@yandex.ru", sender_address="tours@alpha.example")
    yandex = sender_identity(SmtpSettings(host="smtp.yandex.ru", **base))
    other = sender_identity(SmtpSettings(host="smtp.alpha.example", **base))

    assert (yandex.address, yandex.envelope) == ("tours@alpha.example", "robot@yandex.ru")
    assert (other.address, other.envelope) == ("tours@alpha.example", "tours@alpha.example")


def test_the_rule_never_falls_back_on_anything_but_the_agency():
    settings = SmtpSettings(host="smtp.alpha.example", port=25, security="none", login="robot")
    try:
        sender_identity(settings)
    except NoSenderAddress:
        pass
    else:
        raise AssertionError("an identity without any address")
    assert sender_identity(SmtpSettings(host="h", port=25, security="none", login="robot",
                                        agency_email="office@alpha.example")).source == "agency_email"


def test_the_settings_page_shows_who_mail_comes_from_and_flags_no_address(client, admin, agency):
    sign_in(client, admin)
    agency.mail_settings.login = "robot"
    agency.mail_settings.sender_address = ""
    db.session.commit()
    page = client.get("/mail-settings").get_data(as_text=True)
    assert "office@alpha.example" in page.split('id="sender_address-message"', 1)[1].split("</div>", 1)[0]

    agency.email = None
    db.session.commit()
    page = client.get("/mail-settings").get_data(as_text=True)
    message = page.split('id="sender_address-message"', 1)[1].split("</div>", 1)[0]
    assert "field-warning" in message
    assert "не от кого" in message or "нет адреса" in message


def test_a_troubleshooting_check_flags_a_configuration_with_no_sender(agency):
    agency.mail_settings.login = "robot"
    agency.mail_settings.sender_address = ""
    db.session.commit()
    assert checks.check_sender_identity(checks.make_context(agency)).status == checks.OK

    agency.email = None
    db.session.commit()
    result = checks.check_sender_identity(checks.make_context(agency))
    assert result.status == checks.PROBLEM
    assert result.link.anchor == "sender_address"


def test_the_template_preview_shows_the_same_sender(client, admin, agency):
    sign_in(client, admin)
    agency.mail_settings.login = ""
    agency.mail_settings.sender_address = ""
    agency.mail_settings.sender_name = "Альфа-Тур"
    db.session.commit()

    page = client.get("/templates/registration_confirmation/ru").get_data(as_text=True)

    line = page.split('class="preview-from"', 1)[1].split("</p>", 1)[0]
    assert "Альфа-Тур &lt;office@alpha.example&gt;" in line


def test_the_inline_check_of_the_login_updates_who_mail_comes_from(client, admin, agency):
    sign_in(client, admin)
    answer = client.post("/mail-settings/validate/login", headers={"HX-Request": "true"},
                         data={"login": "robot", "sender_address": "", "host": "smtp.alpha.example",
                               "agency_email": ""})
    sender_message = answer.text.split('id="sender_address-message"', 1)[1].split("</div>", 1)[0]
    assert 'hx-swap-oob="true"' in sender_message and "field-warning" in sender_message

    answer = client.post("/mail-settings/validate/login", headers={"HX-Request": "true"},
                         data={"login": "robot@alpha-mail.example", "sender_address": "",
                               "host": "smtp.alpha.example", "agency_email": ""})
    assert "Письма уходят от robot@alpha-mail.example" in answer.text
