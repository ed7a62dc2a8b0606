"""A person clicks "Send test email" and watches each SMTP step appear as it happens."""
import time

import pytest

from conftest import browser_sign_in
from outbox_helpers import point_agency_at

pytestmark = pytest.mark.browser


def test_steps_appear_one_by_one_then_the_result(page, admin, agency, smtp_server, background_worker):
    point_agency_at(agency, smtp_server(delay=0.25))
    browser_sign_in(page, admin)
    page.goto("/mail-settings")

    page.click("button.send-test")
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not page.locator(".test-result article").count():
        seen.append(page.locator("ol.steps li").count())
        time.sleep(0.05)

    assert page.locator(".test-result article.result-ok").is_visible()
    assert page.locator("ol.steps li").count() == 8
    growth = sorted(set(seen))
    assert len(growth) >= 4, f"steps arrived in {growth}, not one by one"
    assert page.locator("ol.steps li").first.inner_text().startswith("✓")
