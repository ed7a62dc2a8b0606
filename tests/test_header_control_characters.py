"""No control character reaches an email header: the settings form, the template subject (at
save and at render) and the message builder each refuse them."""
import pytest

from mailsettings_data import SECRET, change_count, valid_form
from outbox_helpers import point_agency_at
from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailtemplates.defaults import default_template
from webapp.mailtemplates.render import TemplateBroken, render_email
from webapp.mailtemplates.service import find_template
from webapp.models import MailSettings, OutboxEmail
from webapp.outbox.sender import send_due
from webapp.outbox.service import queue_email
from webapp.smtpcheck.connection import SmtpSettings
from webapp.smtpcheck.message import UnsafeHeader, compose_message

# Each ends a line for str.splitlines, and so for a parser such as the dev catcher's, or is a
# control character no header may carry.
BREAKERS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\x01",
            "\x1b", "\x7f", "\x9f"]


@pytest.mark.parametrize("name, value, label", [
    ("sender_name", "Tour{}Bcc: victim@example.com", "Имя отправителя"),
    ("sender_address", "a@alpha.example{}Bcc: victim@example.com", "Адрес отправителя"),
    ("login", "office@alpha.example{}x", "SMTP логин"),
    ("agency_email", "office@alpha.example{}Bcc: victim@example.com",
     "Адрес электронной почты агентства"),
    ("copies_email", "copies@alpha.example{}", "Адрес электронной почты для копий уведомлений"),
])
def test_settings_refuse_every_control_character_in_header_fields(admin_client, agency, name, value,
                                                                  label):
    for breaker in BREAKERS:
        response = admin_client.post("/mail-settings",
                                     data=valid_form(**{name: value.format(breaker)}, password=SECRET))
        body = response.get_data(as_text=True)
        assert response.status_code == 200, repr(breaker)
        assert f"{label}: должно быть одной строкой без управляющих символов" in body, repr(breaker)
        db.session.expire_all()
        row = db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()
        assert row.host == "" and change_count() == 0, repr(breaker)


def _template_form(**parts):
    default = default_template(kinds.ORDER_CHANGE, "en")
    return {"subject": default.subject, "body_text": default.body_text,
            "body_html": default.body_html, **parts}


def test_a_template_subject_with_a_control_character_is_not_saved(admin_client, agency):
    admin_client.post("/language", data={"locale": "en"})
    for breaker in BREAKERS:
        subject = f"Order {{{{ order_number }}}}{breaker}Bcc: x@y"
        response = admin_client.post("/templates/order_change/en", data=_template_form(subject=subject))
        assert response.status_code == 422, repr(breaker)
        assert "Subject: must not contain control characters" in response.get_data(as_text=True)
        db.session.expire_all()
        assert find_template(agency.id, kinds.ORDER_CHANGE, "en").subject != subject


def test_a_stored_subject_with_a_control_character_is_never_rendered(agency):
    # Saved before this rule existed, or written around the editor. PostgreSQL stores no NUL.
    breakers = ["\x0b", "\x1b"] + (["\x00"] if db.engine.dialect.name == "sqlite" else [])
    template = find_template(agency.id, kinds.ORDER_CHANGE, "en")
    for breaker in breakers:
        template.subject = f"Order{breaker} {{{{ order_number }}}}"
        db.session.commit()
        with pytest.raises(TemplateBroken):
            render_email(agency.id, kinds.ORDER_CHANGE, "en",
                         kinds.KINDS[kinds.ORDER_CHANGE]["sample"])


def test_a_control_character_in_the_data_never_reaches_the_subject(agency):
    sample = kinds.KINDS[kinds.ORDER_CHANGE]["sample"]
    template = find_template(agency.id, kinds.ORDER_CHANGE, "en")
    template.subject = "Order {{ change_summary }}"
    db.session.commit()
    # Line-breaking whitespace becomes a space, as CR/LF always did; the rest is refused.
    assert render_email(agency.id, kinds.ORDER_CHANGE, "en",
                        {**sample, "change_summary": "a\x1cb\u2028c"}).subject == "Order a b c"
    with pytest.raises(TemplateBroken):
        render_email(agency.id, kinds.ORDER_CHANGE, "en", {**sample, "change_summary": "a\x00b"})


@pytest.mark.parametrize("breaker", BREAKERS)
def test_the_message_builder_refuses_control_characters_in_any_header(breaker):
    def compose(sender_name="Alpha Tours", sender_address="office@alpha.example",
                to_address="client@example.com", subject="Your order"):
        settings = SmtpSettings(host="smtp.alpha.example", port=587, security="starttls",
                                sender_address=sender_address, sender_name=sender_name)
        return compose_message(settings, to_address, subject, "text")

    compose()  # the same values without it build a message
    for header in ("sender_name", "sender_address", "to_address", "subject"):
        value = {"sender_name": "Alpha{}Bcc: victim@example.com",
                 "sender_address": "office@alpha.example{}Bcc: victim@example.com",
                 "to_address": "client@example.com{}Bcc: victim@example.com",
                 "subject": "Order{}Bcc: victim@example.com"}[header].format(breaker)
        with pytest.raises(UnsafeHeader):
            compose(**{header: value})


def test_an_email_whose_data_breaks_its_subject_fails_visibly_and_the_rest_go(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    template = find_template(agency.id, kinds.REGISTRATION_CONFIRMATION, agency.locale)
    template.subject = "Добро пожаловать, {{ client_name }}"
    db.session.commit()
    sample = kinds.sample_context(kinds.REGISTRATION_CONFIRMATION)
    for key, name in (("registration:1", "Анна\x01"), ("registration:2", "Борис")):
        queue_email(agency.id, kinds.REGISTRATION_CONFIRMATION, "client@example.org",
                    sample | {"client_name": name}, key)
    db.session.commit()

    send_due(agency.id)

    rows = {row.dedupe_key: row for row in db.session.execute(db.select(OutboxEmail)).scalars()}
    assert (rows["registration:1"].status, rows["registration:1"].status_reason) == (
        "failed", "template_failed")
    assert rows["registration:2"].status == "sent"
    assert len(server.handler.received) == 1
