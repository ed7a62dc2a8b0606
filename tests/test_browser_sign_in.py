"""A person signs in with a real browser and sees the Russian interface."""
import pytest

from conftest import browser_sign_in

pytestmark = pytest.mark.browser


def test_admin_signs_in_and_sees_russian_navigation(page, admin):
    browser_sign_in(page, admin)
    assert page.locator("nav").get_by_text("Настройка почты").is_visible()
    assert page.locator("h1").inner_text() == "Alpha"
