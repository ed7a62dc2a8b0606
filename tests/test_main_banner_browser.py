"""In a real browser: while sending is paused, another page (the email log) shows why and what waits."""
from datetime import timedelta

import pytest

from conftest import browser_sign_in
from outbox_helpers import minutes_pass, point_agency_at, queue_confirmation
from webapp.models.types import utcnow
from webapp.outbox.sender import current_pause, send_due

pytestmark = pytest.mark.browser


def test_the_email_log_shows_the_pause_its_reason_and_what_will_expire(page, admin, agency,
                                                                       smtp_server):
    server = smtp_server(login="office@alpha.example", password="right",
                         replies={"AUTH": "535 5.7.8 Username and Password not accepted"})
    point_agency_at(agency, server, login="office@alpha.example", password="wrong")
    queue_confirmation(agency, key="registration:1", expires_at=utcnow() + timedelta(hours=1))
    queue_confirmation(agency, key="registration:2")
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)
    assert current_pause(agency.id) is not None

    browser_sign_in(page, admin)
    page.goto("/email-log/")

    banner = page.locator("#sending-banner")
    banner.wait_for()
    assert banner.get_attribute("role") == "alert"
    text = " ".join(banner.inner_text().split())
    assert "Отправка уведомлений приостановлена" in text
    assert "Логин или пароль не приняты" in text
    assert "2 письма ждут отправки" in text
    assert "1 из них будет отброшено как опоздавшее, если не уйдёт до" in text
    banner.get_by_role("link", name="Исправить настройки почты").click()
    page.wait_for_url("**/mail-settings#test-email")
