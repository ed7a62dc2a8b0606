"""A person runs the checks, watches the results stream in, and clears the copies in one click."""
import pytest

from conftest import browser_sign_in

from test_troubleshoot_checks import add_email
from webapp.extensions import db
from webapp.troubleshoot.checks import CHECKS

pytestmark = pytest.mark.browser


def test_results_stream_in_and_copies_clear_in_one_click(app, page, admin, agency, dns_server, run_worker):
    app.config["DNS_NAMESERVERS"] = dns_server().address
    agency.mail_settings.copies_email = agency.email
    db.session.commit()
    add_email(agency, "failed", hint_code="auth_failed", code=535)
    browser_sign_in(page, admin)
    page.goto("/troubleshooting")
    assert page.locator("svg.delivery-chart g.bar").count() == 30

    page.click("button.run-checks")
    page.wait_for_selector("#troubleshoot-run [sse-connect]", state="attached")
    run_worker()  # the job runs here while the page listens on its stream
    page.wait_for_selector("#troubleshoot-run textarea[readonly]")
    assert page.locator("li.check").count() == len(CHECKS)
    assert "office@alpha.example" in page.locator("#troubleshoot-run textarea").input_value()

    page.click("#check-copies button.clear-copies")
    page.wait_for_selector('#check-copies[data-status="ok"]')
    db.session.expire_all()
    assert agency.mail_settings.copies_email == ""
