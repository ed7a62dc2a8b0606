"""In a real browser: a bad address is flagged without a reload; a provider preset fills port and security."""
import pytest

from conftest import browser_sign_in

pytestmark = pytest.mark.browser


def test_inline_message_and_yandex_preset(page, admin):
    browser_sign_in(page, admin)
    page.goto("/mail-settings")
    page.evaluate("window.notReloaded = true")

    page.fill("#copies_email", "not-an-address")
    page.press("#copies_email", "Tab")
    message = page.locator("#copies_email-message .field-error")
    message.wait_for()
    assert "введите один адрес электронной почты" in message.inner_text()

    page.select_option("#preset", "smtp.yandex.ru")
    assert page.input_value("#host") == "smtp.yandex.ru"
    assert page.input_value("#port") == "465"
    assert page.input_value("#security") == "tls"
    page.locator("#host-message .field-note").wait_for()  # the provider's notes

    # A port typed by hand is a deliberate choice: a new host's suggestion leaves it alone.
    page.fill("#port", "2525")
    page.fill("#host", "smtp.gmail.com")
    page.press("#host", "Tab")
    assert page.input_value("#port") == "2525"
    assert page.input_value("#security") == "starttls"
    assert page.evaluate("window.notReloaded") is True
