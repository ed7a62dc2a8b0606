"""The troubleshooting page: a run streamed check by check, the page without JavaScript, the
delivery overview, the one-click clear of copies, and a support summary without secrets."""
import re

import pytest

from conftest import sign_in
from fixtures_dns import DOMAIN
from test_troubleshoot_checks import add_email
from webapp.extensions import db
from webapp.mailsettings.service import save_settings, settings_view
from webapp.troubleshoot.checks import CHECKS

HX = {"HX-Request": "true"}
SECRET = "Zq-unique-smtp-secret-7731"


@pytest.fixture
def configured(app, agency, dns_server):
    """An agency sending from the test domain, its DNS answered on loopback, a password stored."""
    app.config["DNS_NAMESERVERS"] = dns_server().address
    values = settings_view(agency).values() | {"host": "smtp.example-agency.test", "port": 587,
                                               "login": f"office@{DOMAIN}"}
    save_settings(agency, values, new_password=SECRET)
    return agency


def stream_events(client, run_id, last_event_id=None):
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"/troubleshooting/runs/{run_id}/stream", headers=headers)
    assert response.mimetype == "text/event-stream"
    body = response.get_data(as_text=True)
    return [dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            for block in body.strip().split("\n\n") if not block.startswith(":")], body


def start(client, headers=HX):
    response = client.post("/troubleshooting/runs", headers=headers)
    if headers:
        return response, re.search(r"/troubleshooting/runs/([0-9a-f]{32})/stream", response.get_data(as_text=True)).group(1)
    return response, response.headers["Location"].rsplit("/", 1)[1]


def test_each_check_streams_in_then_the_summary_and_done(admin_client, configured, run_worker):
    configured.mail_settings.copies_email = configured.email
    db.session.commit()
    started, run_id = start(admin_client)
    assert 'sse-close="done"' in started.get_data(as_text=True)
    run_worker()

    events, _body = stream_events(admin_client, run_id)
    assert [e["event"] for e in events] == ["check"] * len(CHECKS) + ["summary", "done"]
    statuses = dict(re.search(r'data-check="(\w+)" data-status="(\w+)"', e["data"]).groups()
                    for e in events if e["event"] == "check")
    assert statuses["spf"] == statuses["dmarc"] == statuses["dkim"] == "ok"
    assert statuses["copies"] == "problem" and statuses["last_test"] == "unknown"
    summary = events[-2]["data"]
    assert "<textarea readonly" in summary and "&#10;" in summary  # line breaks survive the one-line event
    assert "alpha" in summary and "пароль: задан" in summary

    again, _ = stream_events(admin_client, run_id, last_event_id=events[2]["id"])
    assert again == events[3:]


def test_without_javascript_the_run_page_refreshes_until_done(admin_client, configured, run_worker):
    started, run_id = start(admin_client, headers={})
    assert started.status_code == 303
    waiting = admin_client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in waiting

    run_worker()
    page = admin_client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    assert page.count('class="check check-') == len(CHECKS)
    assert 'href="/mail-settings#test-email"' in page and "<textarea readonly" in page


def test_nothing_any_page_shows_contains_the_password(admin_client, configured, run_worker):
    add_email(configured, "failed", hint_code="auth_failed", code=535, reply="535 5.7.8 Authentication credentials invalid")
    _started, run_id = start(admin_client)
    _response, second = start(admin_client, headers={})
    run_worker()
    bodies = [admin_client.get("/troubleshooting").get_data(as_text=True),
              stream_events(admin_client, run_id)[1],
              admin_client.get(f"/troubleshooting/runs/{second}").get_data(as_text=True)]
    assert all(SECRET not in body for body in bodies)
    assert "535 5.7.8" in bodies[1]  # the server's reply is there, the password never


def test_a_run_of_another_agency_is_not_found(client, configured, make_agency, make_user, admin, run_worker):
    sign_in(client, admin)
    _started, run_id = start(client)
    client.post("/sign-out")
    sign_in(client, make_user(make_agency("beta")))
    assert client.get(f"/troubleshooting/runs/{run_id}").status_code == 404
    assert client.get(f"/troubleshooting/runs/{run_id}/stream").status_code == 404


def test_the_page_is_for_admins(client, agency, make_user):
    assert client.get("/troubleshooting").status_code == 302  # to sign-in
    sign_in(client, make_user(agency, "clerk@alpha.example", admin=False))
    assert client.get("/troubleshooting").status_code == 403
    assert client.post("/troubleshooting/copies/clear").status_code == 403


def test_the_overview_charts_30_days_and_links_reasons_to_the_log(admin_client, agency):
    add_email(agency, "sent")
    add_email(agency, "failed", hint_code="auth_failed", code=535)
    page = admin_client.get("/troubleshooting").get_data(as_text=True)
    assert page.count('<g class="bar"') == 30 and page.count("<title>") >= 31
    assert 'class="segment-sent"' in page and 'class="segment-failed"' in page
    assert re.search(r'<li data-code="auth_failed" data-status="failed">\s*<a href="/email-log/\?status=failed&amp;date_from=', page)
    assert 'href="/mail-settings#password"' in page
    assert '/troubleshooting' in admin_client.get("/").get_data(as_text=True)  # in the navigation


def test_one_click_clear_of_copies(admin_client, agency):
    agency.mail_settings.copies_email = agency.email
    db.session.commit()
    fragment = admin_client.post("/troubleshooting/copies/clear", headers=HX).get_data(as_text=True)
    assert 'data-check="copies" data-status="ok"' in fragment
    db.session.expire_all()
    assert agency.mail_settings.copies_email == ""
    again = admin_client.post("/troubleshooting/copies/clear")
    assert again.status_code == 303


def test_forms_need_the_csrf_token(app_config, admin):
    app_config["WTF_CSRF_ENABLED"] = True
    from webapp import create_app
    app = create_app(app_config)
    with app.test_client() as client:
        page = client.get("/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        signed_in = client.post("/sign-in", data={"email": admin.email, "password": "correct horse battery",
                                                  "csrf_token": token})
        assert signed_in.status_code == 302
        assert client.post("/troubleshooting/copies/clear").status_code == 400
        assert client.post("/troubleshooting/runs").status_code == 400
