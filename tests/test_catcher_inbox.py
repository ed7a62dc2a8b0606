"""The development mail catcher keeps what it receives and shows it on /dev/mail."""
import re
import smtplib
from email.message import EmailMessage

import pytest

from conftest import free_port, sign_in
from webapp import create_app
from webapp.catcher.service import start_catcher


@pytest.fixture
def dev_client(app_config, admin):
    app_config["DEV_TOOLS"] = True
    client = create_app(app_config).test_client()
    sign_in(client, admin)
    return client


def test_caught_message_is_listed_and_shown(app_config, dev_client):
    port = free_port()
    controller = start_catcher(app_config["MAIL_CATCHER_DIR"], port=port)
    try:
        message = EmailMessage()
        message["From"] = "Демо-Тур <office@demo.example>"
        message["To"] = "client@example.org"
        message["Subject"] = "Подтверждение регистрации"
        message.set_content("Перейдите по ссылке.")
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message, to_addrs=["client@example.org", "copies@demo.example"])
    finally:
        controller.stop()

    inbox = dev_client.get("/dev/mail/").get_data(as_text=True)
    assert "Подтверждение регистрации" in inbox
    assert "copies@demo.example" in inbox
    key = re.search(r'href="/dev/mail/([^"/]+)"', inbox).group(1)
    page = dev_client.get(f"/dev/mail/{key}").get_data(as_text=True)
    assert "Перейдите по ссылке." in page


def test_the_inbox_does_not_exist_outside_development(admin_client):
    assert admin_client.get("/dev/mail/").status_code == 404
