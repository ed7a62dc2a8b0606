"""The incoming mailbox on the mail settings page: prefilled, saved on its own, password
write-only, the check with its steps and hints; bounces in the email log and troubleshooting."""
import re

import pytest

from bounce_helpers import bounce_for, point_incoming_at, send_confirmation
from conftest import sign_in
from webapp import mail_secrets
from webapp.bounces.service import read_bounces
from webapp.extensions import db
from webapp.models import IncomingMailSettings


@pytest.fixture
def app_config(app_config, smtp_tls_files):
    app_config["MAIL_CA_FILE"] = smtp_tls_files.ca_file
    return app_config


def incoming(agency) -> IncomingMailSettings:
    db.session.expire_all()
    return db.session.execute(db.select(IncomingMailSettings).filter_by(agency_id=agency.id)).scalar_one()


def form(**overrides):
    values = {"incoming_enabled": "y", "incoming_host": "imap.example.net", "incoming_port": "993",
              "incoming_security": "tls", "incoming_login": "office@alpha.example",
              "incoming_password": "app-password", "incoming_after_reading": "keep", "incoming_move_folder": ""}
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def test_the_section_is_off_by_default_and_prefilled_from_the_smtp_preset_and_login(admin_client, agency):
    smtp = agency.mail_settings
    smtp.host, smtp.port, smtp.security, smtp.login = "smtp.yandex.ru", 465, "tls", "office@alpha.example"
    smtp.password_encrypted = mail_secrets.encrypt("yandex-app-password")
    db.session.commit()

    settings_page = admin_client.get("/mail-settings").get_data(as_text=True)
    assert 'hx-get="/mail-settings/incoming"' in settings_page  # the section loads on its own
    page = admin_client.get("/mail-settings/incoming", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert 'id="incoming-mail"' in page and "<html" not in page
    assert 'id="incoming_enabled"' in page and 'id="incoming_enabled" name="incoming_enabled" type="checkbox" value="y">' in page
    assert 'value="imap.yandex.ru"' in page and 'value="993"' in page
    assert 'name="incoming_login" spellcheck="false" type="text" value="office@alpha.example"' in page
    assert "yandex-app-password" not in page
    assert "Пустое поле: используется пароль SMTP" in page


def test_saving_encrypts_the_password_and_never_shows_it(admin_client, agency):
    response = admin_client.post("/mail-settings/incoming", data=form())
    assert response.status_code == 302
    row = incoming(agency)
    assert (row.enabled, row.host, row.port, row.security, row.login) == (
        True, "imap.example.net", 993, "tls", "office@alpha.example")
    assert row.password_encrypted and "app-password" not in row.password_encrypted
    assert mail_secrets.decrypt(row.password_encrypted) == "app-password"
    page = admin_client.get("/mail-settings/incoming").get_data(as_text=True)
    assert "app-password" not in page and "Пароль сохранён" in page

    # Empty password field: the stored one stays.
    admin_client.post("/mail-settings/incoming", data=form(incoming_password="", incoming_port="143",
                                                           incoming_security="starttls"))
    row = incoming(agency)
    assert (row.port, mail_secrets.decrypt(row.password_encrypted)) == (143, "app-password")


@pytest.mark.parametrize("overrides, field, words", [
    ({"incoming_host": ""}, "incoming_host", "IMAP сервер"),
    ({"incoming_host": "imaps://imap.example.net:993"}, "incoming_host", "только имя сервера"),
    ({"incoming_port": "70000"}, "incoming_port", "от 1 до 65535"),
    ({"incoming_port": "abc"}, "incoming_port", "Порт IMAP"),
    ({"incoming_login": ""}, "incoming_login", "логин"),
    ({"incoming_after_reading": "move"}, "incoming_move_folder", "папку"),
    ({"incoming_login": "a\r\nBcc: x@evil.example"}, "incoming_login", "одной строкой"),
])
def test_bad_input_names_the_field_and_saves_nothing(admin_client, agency, overrides, field, words):
    admin_client.post("/mail-settings/incoming", data=form(incoming_host="imap.first.example"))
    response = admin_client.post("/mail-settings/incoming", data=form(**overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert words.lower() in page.lower()
    assert "Ничего не сохранено" in page
    assert incoming(agency).host == "imap.first.example"


def test_switching_it_on_without_any_password_names_the_password_field(admin_client, agency):
    response = admin_client.post("/mail-settings/incoming", data=form(incoming_password=""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="incoming_password-error"' in page and "Пароль IMAP: введите пароль ящика" in page
    assert incoming(agency).enabled is False


def test_the_smtp_password_of_the_same_login_is_used_when_none_is_given(admin_client, agency):
    smtp = agency.mail_settings
    smtp.login, smtp.password_encrypted = "office@alpha.example", mail_secrets.encrypt("one-app-password")
    db.session.commit()
    assert admin_client.post("/mail-settings/incoming", data=form(incoming_password="")).status_code == 302
    from webapp.bounces.service import imap_settings_for
    assert incoming(agency).password_encrypted is None
    assert imap_settings_for(agency.id).password == "one-app-password"


def test_an_employee_who_is_not_an_admin_cannot_change_it(client, agency, make_user):
    sign_in(client, make_user(agency, email="clerk@alpha.example", admin=False))
    assert client.post("/mail-settings/incoming", data=form()).status_code == 403
    assert client.post("/mail-settings/incoming/check").status_code == 403


def test_the_check_streams_each_step_and_opens_the_inbox(admin_client, agency, imap_mailbox, run_worker):
    point_incoming_at(agency, imap_mailbox, security="tls")
    started = admin_client.post("/mail-settings/incoming/check", headers={"HX-Request": "true"})
    stream_url = re.search(r'sse-connect="([^"]+)"', started.get_data(as_text=True)).group(1)
    run_worker()  # the check runs as a job; its steps wait in the stream

    events = admin_client.get(stream_url).get_data(as_text=True)
    steps = re.findall(r"event: step\ndata: .*?data-step=\"(\w+)\" data-ok=\"(\w+)\"", events)
    assert steps == [("resolve", "true"), ("tls", "true"), ("login", "true"), ("select", "true")]
    assert "event: result" in events and 'id="incoming-check-result" data-ok="true"' in events
    assert events.rstrip().endswith("event: done\ndata:")
    assert imap_mailbox.password not in events


def test_another_agencys_check_stream_is_not_found(admin_client, app, agency, make_agency, make_user,
                                                   imap_mailbox):
    point_incoming_at(agency, imap_mailbox, security="tls")
    started = admin_client.post("/mail-settings/incoming/check", headers={"HX-Request": "true"})
    stream_url = re.search(r'sse-connect="([^"]+)"', started.get_data(as_text=True)).group(1)
    other_client = app.test_client()
    sign_in(other_client, make_user(make_agency("beta")))
    assert other_client.get(stream_url).status_code == 404


def test_checks_are_limited_per_hour(admin_client, agency, imap_mailbox):
    point_incoming_at(agency, imap_mailbox, security="tls")
    statuses = [admin_client.post("/mail-settings/incoming/check", headers={"HX-Request": "true"}).status_code
                for _ in range(21)]
    assert statuses == [200] * 20 + [429]


def test_without_javascript_the_check_page_shows_the_steps(admin_client, agency, imap_mailbox):
    point_incoming_at(agency, imap_mailbox, security="tls")
    page = admin_client.post("/mail-settings/incoming/check").get_data(as_text=True)
    for step in ("resolve", "tls", "login", "select"):
        assert f'data-step="{step}" data-ok="true"' in page
    assert "Открываем INBOX" in page and imap_mailbox.password not in page


def test_a_wrong_imap_password_gives_its_hint_naming_the_password_field(admin_client, agency, imap_mailbox):
    point_incoming_at(agency, imap_mailbox, security="starttls", password="wrong")
    page = admin_client.post("/mail-settings/incoming/check").get_data(as_text=True)
    assert 'data-step="starttls" data-ok="true"' in page
    assert 'data-step="login" data-ok="false"' in page
    assert 'data-hint="imap_login_failed"' in page and 'data-field="incoming_password"' in page
    assert "wrong" not in page.replace("wrong_", "")


def test_the_wrong_security_for_the_port_gives_its_hint(admin_client, agency, imap_mailbox):
    point_incoming_at(agency, imap_mailbox, security="tls", port=imap_mailbox.port)
    page = admin_client.post("/mail-settings/incoming/check").get_data(as_text=True)
    assert 'data-hint="imap_tls_mismatch"' in page and 'data-field="incoming_security"' in page


def test_the_check_refuses_private_addresses_as_the_smtp_guard_does(admin_client, agency, imap_mailbox, app):
    app.config["MAIL_ALLOW_PRIVATE_HOSTS"] = False
    point_incoming_at(agency, imap_mailbox, security="tls", port=993)
    page = admin_client.post("/mail-settings/incoming/check").get_data(as_text=True)
    assert 'data-hint="imap_not_allowed"' in page
    point_incoming_at(agency, imap_mailbox, security="tls")  # a port that is not IMAP's
    page = admin_client.post("/mail-settings/incoming/check").get_data(as_text=True)
    assert 'data-hint="imap_not_allowed"' in page


def test_the_email_log_shows_the_bounce_and_warns_at_the_next_email_to_that_address(
        admin_client, agency, smtp_server, run_worker, imap_mailbox):
    server = smtp_server()
    first = send_confirmation(agency, server, run_worker, to="anna@client.example")
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for("mailru.eml", first))
    read_bounces(agency.id)
    later = send_confirmation(agency, server, run_worker, to="Anna@Client.example", key="registration:2")

    page = admin_client.get("/email-log/").get_data(as_text=True)
    bounced_row = page.split(f'id="email-{first.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-status="bounced"' in page
    assert "Возвращено" in bounced_row and 'data-bounce-reason="no_such_user"' in bounced_row
    assert "Message was not accepted -- invalid mailbox" in bounced_row
    assert "Кто должен действовать" in bounced_row
    later_row = page.split(f'id="email-{later.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-bounce-warning="true"' in later_row
    filtered = admin_client.get("/email-log/?status=bounced").get_data(as_text=True)
    assert f'id="email-{first.id}"' in filtered and f'id="email-{later.id}"' not in filtered


def test_troubleshooting_and_the_dashboard_count_bounces_of_30_days_by_reason(
        admin_client, agency, smtp_server, run_worker, imap_mailbox):
    server = smtp_server()
    rows = [send_confirmation(agency, server, run_worker, to=f"c{n}@client.example", key=f"r:{n}") for n in range(3)]
    point_incoming_at(agency, imap_mailbox)
    for row, sample in zip(rows, ("postfix.eml", "exim.eml", "outlook_mailbox_full.eml")):
        imap_mailbox.deliver(bounce_for(sample, row))
    read_bounces(agency.id)

    for url in ("/troubleshooting", "/"):
        page = admin_client.get(url).get_data(as_text=True)
        section = page.split('id="bounces-by-reason"', 1)[1].split("</section>", 1)[0]
        assert 'data-code="no_such_user"' in section and "2 письма" in section
        assert 'data-code="mailbox_full"' in section and "1 письмо" in section


def test_another_agencys_bounces_stay_out_of_sight(admin_client, agency, make_agency, smtp_server, run_worker,
                                                   imap_mailbox):
    other = make_agency("beta")
    row = send_confirmation(other, smtp_server(), run_worker)
    point_incoming_at(other, imap_mailbox)
    imap_mailbox.deliver(bounce_for("postfix.eml", row))
    assert read_bounces(other.id).bounces == 1
    page = admin_client.get("/troubleshooting").get_data(as_text=True)
    assert 'data-code="no_such_user"' not in page


def test_the_imap_password_never_leaves_the_server(admin_client, agency, imap_mailbox, run_worker, caplog):
    import logging

    from webapp.jobs import redis_connection
    caplog.set_level(logging.DEBUG)
    secret = "Imap-Pw-7f3a9c2e-Ünïcode"
    admin_client.post("/mail-settings/incoming", data=form(incoming_host="localhost",
                                                           incoming_port=str(imap_mailbox.port),
                                                           incoming_security="starttls",
                                                           incoming_password=secret))
    started = admin_client.post("/mail-settings/incoming/check", headers={"HX-Request": "true"})
    stream_url = re.search(r'sse-connect="([^"]+)"', started.get_data(as_text=True)).group(1)
    # Jobs carry ids only: look at what waits in Redis before the worker takes it.
    stored = b"".join(redis_connection().dump(key) or b"" for key in redis_connection().keys("*"))
    assert secret.encode() not in stored
    run_worker()
    read_bounces(agency.id)
    pages = [admin_client.get(url).get_data(as_text=True)
             for url in ("/mail-settings", "/mail-settings/incoming", stream_url, "/troubleshooting")]
    assert all(secret not in page for page in pages)
    assert secret not in caplog.text


def test_rotating_the_keys_re_encrypts_the_imap_password_too(app, admin_client, agency, flask_env):
    from cryptography.fernet import Fernet

    from conftest import flask_cli
    admin_client.post("/mail-settings/incoming", data=form(incoming_password="imap-secret"))
    new_key = Fernet.generate_key().decode()
    flask_env["MAIL_SECRET_KEYS"] = f"{new_key},{app.config['MAIL_SECRET_KEYS']}"

    result = flask_cli(flask_env, "mail", "rotate-keys")

    assert result.returncode == 0, result.stderr
    assert "re-encrypted 1" in result.stdout
    app.config["MAIL_SECRET_KEYS"] = new_key
    assert mail_secrets.decrypt(incoming(agency).password_encrypted) == "imap-secret"


def test_a_bounced_email_counts_as_failed_in_the_delivery_chart(admin_client, agency, smtp_server, run_worker,
                                                                imap_mailbox):
    from webapp.troubleshoot.overview import delivery_by_day, totals
    server = smtp_server()
    rows = [send_confirmation(agency, server, run_worker, to=f"c{n}@client.example", key=f"r:{n}") for n in range(2)]
    assert (totals(delivery_by_day(agency.id)).sent, totals(delivery_by_day(agency.id)).failed) == (2, 0)
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for("postfix.eml", rows[0]))
    read_bounces(agency.id)

    assert (totals(delivery_by_day(agency.id)).sent, totals(delivery_by_day(agency.id)).failed) == (1, 1)
