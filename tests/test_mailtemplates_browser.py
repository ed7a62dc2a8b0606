"""An administrator edits a subject and sees the preview follow, without a page reload."""
import pytest

from conftest import browser_sign_in

pytestmark = pytest.mark.browser


def test_editing_the_subject_updates_the_preview_in_place(page, admin):
    browser_sign_in(page, admin)
    page.goto("/templates/order_change/ru")
    page.evaluate("window.notReloaded = true")

    page.fill("input[name=subject]", "Срочно: заказ {{ order_number }} для {{ client_name }}")

    subject = page.locator("#preview .preview-subject")
    subject.filter(has_text="Срочно: заказ 291205 для Анна Петрова").wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert page.frame_locator("iframe.preview-html").locator("body").inner_text().startswith(
        "Здравствуйте, Анна Петрова!")
