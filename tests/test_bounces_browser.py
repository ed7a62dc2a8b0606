"""End to end in a real browser: an email goes out through the development catcher, its bounce
lands in the (Dovecot) sending mailbox, the periodic job reads it, the email log says "bounced" and why."""
import email
import mailbox
import time
from email import policy

import pytest

from bounce_helpers import bounce_for
from conftest import browser_sign_in, free_port
from outbox_helpers import queue_confirmation, reload
from webapp.bounces.service import queue_readings
from webapp.catcher.service import start_catcher
from webapp.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config, smtp_tls_files):
    app_config["DEV_TOOLS"] = True
    app_config["MAIL_CA_FILE"] = smtp_tls_files.ca_file
    return app_config


@pytest.fixture
def flask_env(flask_env, smtp_tls_files):
    # The worker process verifies the test Dovecot's certificate with OpenSSL's default store.
    return flask_env | {"SSL_CERT_FILE": smtp_tls_files.ca_file}


@pytest.fixture
def catcher(app_config):
    port = free_port()
    controller = start_catcher(app_config["MAIL_CATCHER_DIR"], port=port)
    yield port
    controller.stop()


def wait_for(condition, tries=100):
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("the condition was not met in time")


def test_a_bounce_read_from_the_mailbox_shows_in_the_email_log(page, app, app_config, flask_env, agency, admin,
                                                                 catcher, imap_mailbox, background_worker):
    # The agency sends through the development catcher.
    settings = agency.mail_settings
    settings.host, settings.port, settings.security = "localhost", catcher, "none"
    settings.sender_address = "office@alpha.example"
    db.session.commit()
    row = queue_confirmation(agency, to="anna@client.example")
    wait_for(lambda: reload(row).status == "sent")
    row = reload(row)
    (caught,) = [email.message_from_bytes(m.as_bytes(), policy=policy.default)
                 for m in mailbox.Maildir(app_config["MAIL_CATCHER_DIR"])]
    assert caught["Message-ID"] == row.message_id

    browser_sign_in(page, admin)
    page.goto("/email-log/")
    assert page.locator(f"#email-{row.id}").get_attribute("data-status") == "sent"

    # The admin turns on reading bounces: the section loads into the settings page.
    page.goto("/mail-settings")
    page.locator("#incoming-mail-form").wait_for()
    assert page.input_value("#incoming_port") == ""  # no known provider to prefill from
    page.check("#incoming_enabled")
    page.fill("#incoming_login", imap_mailbox.login)
    page.fill("#incoming_host", "localhost")
    page.fill("#incoming_port", str(imap_mailbox.port))
    page.select_option("#incoming_security", "starttls")
    page.fill("#incoming_password", imap_mailbox.password)
    page.locator("#incoming-mail-form button[type=submit]").click()
    page.locator("#incoming-saved").wait_for()
    assert page.input_value("#incoming_password") == ""

    page.click("#check-mailbox")
    page.locator('#incoming-check-result[data-ok="true"]').wait_for(timeout=20_000)
    assert page.locator('#incoming-check li[data-ok="true"]').count() == 5  # resolve, connect, STARTTLS, login, INBOX

    # The recipient's provider returns the email minutes later; the periodic job reads it.
    imap_mailbox.deliver(bounce_for("gmail.eml", row))
    assert queue_readings() == 1
    wait_for(lambda: reload(row).status == "bounced")

    page.goto("/email-log/")
    line = page.locator(f"#email-{row.id}")
    assert line.get_attribute("data-status") == "bounced"
    text = line.inner_text()
    assert "Возвращено" in text and "Такого ящика не существует" in text
    assert "550 5.1.1 The email account that you tried to reach does not exist" in text
    line.locator("details.bounce-note summary").click()  # what to do, and who
    assert "Кто должен действовать: агентство (уточнить адрес у клиента)" in line.inner_text()
