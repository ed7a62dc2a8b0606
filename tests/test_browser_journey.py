"""An administrator's whole day in a real browser, with screenshots of the main pages (for the
README: `SCREENSHOTS_DIR=docs/screenshots ./test tests/test_browser_journey.py` refreshes them):
sign in, fill the settings with a preset, see an inline error, send a test email to the local catcher
and watch it stream, open the caught message, edit a template, find an API order's email in the log,
switch an agency notification off, download an issued booking's PDF from the log, resend a failed
one, run the troubleshooting checks."""
import os
from pathlib import Path

import pytest

from api_fixtures import ORDER, Engine
from document_samples import PDF, attachment
from conftest import browser_sign_in, free_port
from webapp.api.service import issue_token
from webapp.catcher.service import start_catcher
from webapp.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture
def dev_app_config(app_config):
    app_config["DEV_TOOLS"] = True
    return app_config


@pytest.fixture
def catcher(dev_app_config):
    port = free_port()
    controller = start_catcher(dev_app_config["MAIL_CATCHER_DIR"], port=port)
    yield port
    controller.stop()


@pytest.fixture
def shot(page, tmp_path):
    """Screenshots go to SCREENSHOTS_DIR when set, else beside the test's other temporary files."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_an_administrators_day(dev_app_config, page, app, client, agency, admin, catcher,
                               smtp_server, background_worker, shot):
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_sign_in(page, admin)

    # Settings: a preset fills port and security; a bad address is flagged inline.
    page.goto("/mail-settings")
    page.select_option("#preset", "smtp.yandex.ru")
    assert (page.input_value("#port"), page.input_value("#security")) == ("465", "tls")
    page.fill("#copies_email", "not-an-address")
    page.press("#copies_email", "Tab")
    page.locator("#copies_email-message .field-error").wait_for()

    # Point the agency at the local catcher and save.
    page.fill("#host", "localhost")
    page.fill("#port", str(catcher))
    page.select_option("#security", "none")
    page.fill("#login", "")
    page.fill("#copies_email", "")
    page.fill("#sender_name", "Альфа-Тур")
    page.locator("#mail-settings button[type=submit]").click()
    page.wait_for_load_state()
    assert page.input_value("#port") == str(catcher)

    # The test email streams its steps, then lands in the catcher.
    page.click("button.send-test")
    page.locator(".test-result article.result-ok").wait_for(timeout=20_000)
    assert page.locator("ol.steps li").count() >= 7
    shot("mail-settings")

    page.goto("/dev/mail/")
    page.locator("table a").first.click()
    page.wait_for_load_state()
    assert "Тестовое письмо" in page.locator("h1").inner_text()
    shot("caught-mail")

    # A template edit shows in the preview.
    page.goto("/templates/order_change/ru")
    page.fill("input[name=subject]", "Заказ {{ order_number }} изменён")
    page.locator("#preview .preview-subject").filter(has_text="Заказ 291205 изменён").wait_for()
    shot("template-editor")
    page.locator("main form[action$='/templates/order_change/ru'] div[role=group] button:not([formaction])").click()
    page.wait_for_load_state()

    # The booking engine reports an order change: its email appears in the log as sent.
    engine = Engine(client, issue_token(agency.id))
    assert engine.post("/orders", ORDER).status_code == 201
    assert engine.patch("/orders/291205", {"status": "issued", "change_summary": "Выписан"}).status_code == 200
    for _ in range(100):
        page.goto("/email-log/?kind=order_change")
        if page.locator('tr[data-status="sent"]').count():
            break
        page.wait_for_timeout(200)
    assert "Заказ 291205 изменён" in page.locator('tr[data-status="sent"]').first.inner_text()

    # The agency address needs no "booking changed" notification: switched off on the settings
    # page, beside the seed's "email the client when the order changes".
    page.goto("/mail-settings#booking-notifications")
    assert page.is_checked("#notify_agency_booking_changed")
    page.uncheck("#notify_agency_booking_changed")
    page.locator("#booking-notifications button[type=submit]").click()
    page.wait_for_load_state()
    assert not page.is_checked("#notify_agency_booking_changed")
    assert page.is_checked("#notify_agency_booking_issued")

    # The engine issues the tickets with a PDF: the client's email lists it, and it downloads.
    issued = engine.post("/orders/291205/issue", {"documents": [attachment("Билет 291205.pdf", PDF)]})
    assert issued.status_code == 200
    for _ in range(100):
        page.goto("/email-log/?kind=booking_issued")
        if page.locator('tr[data-status="sent"]').count():
            break
        page.wait_for_timeout(200)
    link = page.locator('tr[data-status="sent"] .document a')
    assert link.inner_text() == "Билет 291205.pdf"
    assert "195,3 КБ" in page.locator('tr[data-status="sent"] .document').inner_text()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Билет 291205.pdf"
    assert Path(download.value.path()).read_bytes() == PDF

    # A refusal fails an email; the administrator fixes the cause and resends it.
    refusing = smtp_server(replies={"RCPT": ["550 5.1.1 User unknown"]})
    agency.mail_settings.port = refusing.port
    db.session.commit()
    engine.patch("/orders/291205", {"change_summary": "Изменено время вылета"})
    for _ in range(100):
        page.goto("/email-log/?status=failed")
        if page.locator('tr[data-status="failed"]').count():
            break
        page.wait_for_timeout(200)
    page.goto("/email-log/")  # the whole log: the failed email and the issued one's document
    shot("email-log")
    page.goto("/email-log/?status=failed")
    page.locator('tr[data-status="failed"] button[name=row]').click()
    page.wait_for_load_state()
    for _ in range(100):
        page.goto("/email-log/?kind=order_change&status=sent")
        if page.locator('tr[data-status="sent"]').count() == 2:
            break
        page.wait_for_timeout(200)
    assert page.locator('tr[data-status="sent"]').count() == 2

    # Troubleshooting runs its checks and streams them in.
    page.goto("/troubleshooting")
    page.click("button.run-checks")
    page.locator("#troubleshoot-run [data-status]").first.wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    shot("troubleshooting")
