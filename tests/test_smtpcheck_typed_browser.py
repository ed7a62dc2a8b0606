"""In a real browser (issue 16): the test email tests what was just typed and offers to save it;
the last-test line follows the newest result; a refused test or an expired session shows its
message where the administrator looked; an inline error colours its field."""
import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, browser_sign_in
from outbox_helpers import point_agency_at
from webapp.extensions import db
from webapp.models import MailSettings, TestRun
from webapp.models.types import utcnow

from fixtures_smtp import free_port

pytestmark = pytest.mark.browser


def saved_port() -> int:
    db.session.expire_all()
    return db.session.execute(db.select(MailSettings.port)).scalar_one()


def test_the_test_email_uses_the_typed_port_then_offers_to_save_it(page, admin, agency, smtp_server,
                                                                   background_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    dead_port = free_port()
    agency.mail_settings.port = dead_port
    db.session.add(TestRun(id="0" * 32, agency_id=agency.id, to_address="office@alpha.example",
                           settings_snapshot={}, steps=[], ok=False, failed_step="connect",
                           hint_code="connection_refused", finished_at=utcnow()))
    db.session.commit()
    browser_sign_in(page, admin)
    page.goto("/mail-settings")
    assert page.locator(".last-test").get_attribute("data-ok") == "false"
    assert "значения из формы" in page.locator(".test-what").inner_text()

    page.fill("#port", str(server.port))
    page.click("button.send-test")

    page.locator(".test-result article.result-ok").wait_for(timeout=20_000)
    assert len(server.handler.received) == 1
    assert saved_port() == dead_port  # testing saved nothing
    # The last-test line now tells of this run, not the failed one before it.
    expect(page.locator(".last-test")).to_have_attribute("data-ok", "true")
    assert page.locator(".last-test").count() == 1

    page.click("button.save-tested-button")
    page.locator(".flash-success").wait_for()
    assert saved_port() == server.port


def test_a_rate_limited_test_says_when_the_next_one_is_allowed(app, page, admin, agency, smtp_server):
    point_agency_at(agency, smtp_server())
    app.config["TEST_EMAIL_RUNS_PER_HOUR"] = 1
    browser_sign_in(page, admin)
    page.goto("/mail-settings")

    page.click("button.send-test")
    page.locator("#test-run .test-run").wait_for(state="attached")
    page.click("button.send-test")

    refused = page.locator("#test-run .test-refused")
    refused.wait_for()
    assert "не больше 1 в час" in refused.inner_text()
    assert "Следующее можно отправить в" in refused.inner_text()


def test_an_expired_session_shows_a_sign_in_link_back_to_the_page(page, admin, agency, smtp_server):
    point_agency_at(agency, smtp_server())
    browser_sign_in(page, admin)
    page.goto("/mail-settings")
    page.context.clear_cookies()  # the session expires while the page stays open

    page.fill("#host", "smtp.yandex.ru")
    page.press("#host", "Tab")
    inline = page.locator("#host-message [data-code='401']")
    inline.wait_for()
    assert "Сеанс истёк" in inline.inner_text()
    assert page.locator("#host-message").count() == 1  # the container stays for the next check

    page.click("button.send-test")
    page.locator("#test-run [data-code='401']").wait_for()
    page.click("#test-run a.sign-in-again")
    page.wait_for_url("**/sign-in?next=/mail-settings")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/mail-settings")


def test_an_inline_error_colours_its_field(page, admin, agency):
    browser_sign_in(page, admin)
    page.goto("/mail-settings")

    page.fill("#copies_email", "not-an-address")
    page.press("#copies_email", "Tab")
    page.locator("#copies_email-message .field-error").wait_for()
    expect(page.locator("#copies_email")).to_have_attribute("aria-invalid", "true")

    page.fill("#copies_email", "copies@alpha.example")
    page.press("#copies_email", "Tab")
    expect(page.locator("#copies_email")).not_to_have_attribute("aria-invalid", "true")


@pytest.mark.parametrize("status, content_type, body", [
    (502, "text/plain", "<b>upstream</b> connect error: Bad Gateway"),
    (503, "text/html", "<html><body><h1>nginx proxy: Service Unavailable</h1></body></html>"),
    (500, "application/json", '{"error": "upstream exploded"}'),
])
def test_an_answer_that_is_not_the_apps_own_error_shows_the_generic_message(page, admin, agency, status,
                                                                              content_type, body):
    browser_sign_in(page, admin)
    page.goto("/mail-settings")
    # A proxy in front of the app answers instead of it.
    page.route("**/mail-settings/validate/host",
               lambda route: route.fulfill(status=status, content_type=content_type, body=body))

    page.fill("#host", "smtp.yandex.ru")
    page.press("#host", "Tab")

    shown = page.locator("#host-message [data-htmx-error]")
    shown.wait_for()
    assert f"Сервер ответил ошибкой ({status})" in shown.inner_text()
    message = page.locator("#host-message").inner_html()
    assert "upstream" not in message and "nginx" not in message and "<b>" not in message
    assert page.locator("#host-message").count() == 1


def test_a_typed_password_that_expired_before_the_job_ran_says_so_on_the_password_field(
        page, admin, agency, smtp_server, run_worker):
    from webapp.jobs import redis_connection
    server = smtp_server(login="office@alpha.example", password="new-secret", auth_required=True)
    point_agency_at(agency, server, login="office@alpha.example", password="old-secret")
    browser_sign_in(page, admin)
    page.goto("/mail-settings")

    page.fill("#password", "new-secret")
    page.click("button.send-test")
    page.locator("#test-run .test-run").wait_for(state="attached")
    for key in redis_connection().keys("testrun:*:password"):
        redis_connection().delete(key)  # the job waited longer than the typed password is kept
    run_worker()

    message = page.locator("#password-message .field-error")
    message.wait_for(timeout=20_000)
    assert "Срок хранения введённого пароля истёк" in message.inner_text()
    assert "Введите пароль ещё раз" in page.locator(".test-result").inner_text()
    assert server.handler.auth_attempts == []
