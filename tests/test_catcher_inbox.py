"""The development mail catcher keeps what it receives and shows it on /dev/mail."""
import re
from types import SimpleNamespace

import pytest

from conftest import free_port, sign_in
from outbox_helpers import point_agency_at, queue_confirmation
from webapp import create_app
from webapp.catcher.service import start_catcher


@pytest.fixture
def dev_client(app_config, admin):
    app_config["DEV_TOOLS"] = True
    client = create_app(app_config).test_client()
    sign_in(client, admin)
    return client


def test_caught_message_is_listed_and_shown(app_config, agency, dev_client, run_worker):
    port = free_port()
    controller = start_catcher(app_config["MAIL_CATCHER_DIR"], port=port)
    try:
        point_agency_at(agency, SimpleNamespace(port=port), copies_email="copies@alpha.example")
        queue_confirmation(agency)
        run_worker()
    finally:
        controller.stop()

    inbox = dev_client.get("/dev/mail/").get_data(as_text=True)
    assert "Подтвердите регистрацию" in inbox
    assert "copies@alpha.example" in inbox
    key = re.search(r'href="/dev/mail/([^"/]+)"', inbox).group(1)
    page = dev_client.get(f"/dev/mail/{key}").get_data(as_text=True)
    assert "Анна" in page


def test_the_inbox_does_not_exist_outside_development(admin_client):
    assert admin_client.get("/dev/mail/").status_code == 404
