"""Defects an outside attack run found (issue 19, items 1, 2, 9, 10): changes of one order at
once, live streams that held the site's threads, requests that answered 500, a retried
Idempotency-Key answered 409, and a dev inbox that showed every agency's mail."""
import http.client
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from types import SimpleNamespace

import pytest
from redis import Redis

from api_fixtures import ORDER, outbox
from conftest import PASSWORD, browser_sign_in, free_port, sign_in
from outbox_helpers import point_agency_at, queue_confirmation
from webapp import create_app
from webapp import notification_kinds as kinds
from webapp.api.service import issue_token
from webapp.catcher.service import start_catcher
from webapp.event_streams import STREAMS_PER_AGENCY, STREAMS_PER_USER
from webapp.extensions import db
from webapp.jobs import redis_connection
from webapp.mailtemplates.defaults import default_template
from webapp.mailtemplates.service import find_template
from webapp.models import Order
from webapp.notification_kinds import ORDER_CHANGE, REGISTRATION_CONFIRMATION

ANNA = {"login": "anna", "email": "anna@example.org", "name": "Анна Петрова"}


def api_call(base_url: str, token: str, method: str, path: str, body: dict,
             key: str | None = None) -> tuple[int, dict]:
    """The booking engine over real HTTP, as the attack run sent it."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(f"{base_url}/api/v1{path}", data=json.dumps(body).encode(),
                                     headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


# 1. Order changes at once ---------------------------------------------------------------------

def test_changes_of_one_order_at_once_each_get_a_revision_and_an_email(live_server, agency):
    token = issue_token(agency.id)
    assert api_call(live_server, token, "POST", "/orders", ORDER)[0] == 201
    changes = 24
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(changes)

    def change(n: int) -> None:
        start.wait()
        answers.append(api_call(live_server, token, "PATCH", "/orders/291205",
                                {"change_summary": f"Change number {n}"}))

    threads = [threading.Thread(target=change, args=(n,)) for n in range(changes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sorted(status for status, _ in answers) == [200] * changes
    emails = outbox(ORDER_CHANGE)
    assert sorted(row.context["change_summary"] for row in emails) == \
        sorted(f"Change number {n}" for n in range(changes))
    assert sorted(row.dedupe_key for row in emails) == \
        sorted(f"order_change:{emails[0].dedupe_key.split(':')[1]}:{n}" for n in range(1, changes + 1))
    db.session.expire_all()
    assert db.session.execute(db.select(Order.revision)).scalar_one() == changes


# 9. Requests that answered 500, a retry that answered 409 -----------------------------------

DEEP = {"brackets": "{{ " + "(" * 3000 + "order_number" + ")" * 3000 + " }}",
        "signs": "{{ " + "-" * 9000 + "1 }}",
        "sums": "{{ " + " + ".join(["order_number"] * 1300) + " }}",
        "filters": "{{ order_number" + "|trim" * 3000 + " }}"}


@pytest.mark.parametrize("shape", DEEP)
def test_a_deeply_nested_template_is_refused_naming_the_part(admin_client, agency, shape):
    default = default_template(kinds.ORDER_CHANGE, "ru")
    form = {"subject": default.subject, "body_text": DEEP[shape], "body_html": default.body_html}

    preview = admin_client.post("/templates/order_change/ru/preview", data=form,
                                headers={"HX-Request": "true"})
    saved = admin_client.post("/templates/order_change/ru", data=form)

    assert preview.status_code == 200
    assert "Текст письма: выражение вложено слишком глубоко" in preview.get_data(as_text=True)
    assert saved.status_code == 422
    assert "Текст письма: выражение вложено слишком глубоко" in saved.get_data(as_text=True)
    assert find_template(agency.id, kinds.ORDER_CHANGE, "ru").body_text == default.body_text


@pytest.mark.parametrize("target", ["/%0d%0aSet-Cookie:%20stolen=1", "/email-log%0a",
                                    "/%09/evil.example", "/\x00"])
def test_a_control_character_in_next_falls_back_to_the_home_page(client, admin, target):
    response = client.post(f"/sign-in?next={target}",
                           data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "stolen" not in str(response.headers)
    assert client.get("/").status_code == 200  # signed in


def test_a_retry_after_a_failure_past_the_commit_replays_the_first_answer(app, engine):
    """The change is stored, then waking the sender fails (Redis is unreachable): the engine gets
    a 500 and retries with the same key after a later change; it must get the first answer,
    not a change of the order back to "issued" with one more email."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    redis = app.extensions["redis"]
    app.extensions["redis"] = Redis(port=free_port(), socket_connect_timeout=1)  # nobody listens
    try:
        engine.post("/orders", ORDER)
        failed = engine.patch("/orders/291205", {"status": "issued"}, key="change-1")
    finally:
        app.extensions["redis"] = redis
    engine.patch("/orders/291205", {"status": "cancelled"}, key="change-2")
    retried = engine.patch("/orders/291205", {"status": "issued"}, key="change-1")

    assert failed.status_code == 500
    assert retried.status_code == 200
    assert retried.json["status"] == "issued" and retried.json["revision"] == 1
    # The retry changed nothing: the order stays cancelled, the client got two emails.
    assert [row.context["status"] for row in outbox(ORDER_CHANGE)] == ["issued", "cancelled"]


def test_a_retry_of_a_registration_that_failed_past_the_commit_is_not_a_conflict(app, engine):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    redis = app.extensions["redis"]
    app.extensions["redis"] = Redis(port=free_port(), socket_connect_timeout=1)
    try:
        # A registration queues its confirmation, then the wake fails.
        failed = engine.post("/registrations", ANNA, key="reg-1")
    finally:
        app.extensions["redis"] = redis
    retried = engine.post("/registrations", ANNA, key="reg-1")

    assert failed.status_code == 500
    assert retried.status_code == 201 and retried.json["login"] == "anna"
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1


def test_a_moment_out_of_range_in_the_orders_offset_is_answered_not_a_500(engine):
    body = ORDER | {"payment_time_limit": "9999-12-31T23:00:00+00:00",
                    "data_deadline": "9999-12-30T10:00:00+14:00"}
    first = engine.post("/orders", body, key="far")
    again = engine.post("/orders", body, key="far")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert first.json["payment_time_limit"] == "9999-12-31T23:00:00+00:00"


# 10. The dev inbox ---------------------------------------------------------------------------

def test_the_dev_inbox_shows_each_agency_only_its_own_mail(app_config, agency, make_agency, make_user,
                                                          admin, run_worker):
    app_config["DEV_TOOLS"] = True
    dev_app = create_app(app_config)
    beta = make_agency("beta")
    port = free_port()
    catcher = start_catcher(app_config["MAIL_CATCHER_DIR"], port=port)
    alpha_client, beta_client = dev_app.test_client(), dev_app.test_client()
    sign_in(alpha_client, admin)
    sign_in(beta_client, make_user(beta, admin=False))
    try:
        for each in (agency, beta):
            point_agency_at(each, SimpleNamespace(port=port))
            queue_confirmation(each, to=f"client@{each.slug}.example")
        run_worker()
        assert alpha_client.post("/mail-settings/test").status_code == 303  # alpha's test email
        run_worker()
    finally:
        catcher.stop()

    alpha_inbox = alpha_client.get("/dev/mail/").get_data(as_text=True)
    beta_inbox = beta_client.get("/dev/mail/").get_data(as_text=True)
    assert "client@alpha.example" in alpha_inbox and "Тестовое письмо" in alpha_inbox
    assert "client@beta.example" not in alpha_inbox
    assert "client@beta.example" in beta_inbox
    assert "client@alpha.example" not in beta_inbox and "Тестовое письмо" not in beta_inbox

    alpha_keys = re.findall(r'href="/dev/mail/([^"/]+)"', alpha_inbox)
    [beta_key] = re.findall(r'href="/dev/mail/([^"/]+)"', beta_inbox)
    assert len(alpha_keys) == 2
    assert alpha_client.get(f"/dev/mail/{beta_key}").status_code == 404
    assert beta_client.get(f"/dev/mail/{alpha_keys[0]}").status_code == 404
    assert beta_client.get(f"/dev/mail/{beta_key}").status_code == 200

    beta_client.post("/dev/mail/clear")  # "Delete all" deletes beta's mail only
    assert "client@beta.example" not in beta_client.get("/dev/mail/").get_data(as_text=True)
    assert len(re.findall(r'href="/dev/mail/([^"/]+)"',
                          alpha_client.get("/dev/mail/").get_data(as_text=True))) == 2


# 2. Live streams (SSE) -----------------------------------------------------------------------

class Browser:
    """A signed-in browser over real HTTP: the session cookie of a test client that signed in."""

    def __init__(self, live_server: str, app, user):
        client = app.test_client()
        sign_in(client, user)
        self.cookie = f"session={client.get_cookie('session').value}"
        self.host, self.port = urllib.parse.urlsplit(live_server).netloc.split(":")
        self.streams: list[tuple[http.client.HTTPConnection, http.client.HTTPResponse]] = []

    def get(self, path: str, headers: dict | None = None, timeout: float = 10):
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=timeout)
        connection.request("GET", path, headers={"Cookie": self.cookie, **(headers or {})})
        return connection, connection.getresponse()

    def open_stream(self, path: str):
        """Connect as EventSource does and keep the stream open; returns the response."""
        connection, response = self.get(path, {"Accept": "text/event-stream"})
        if response.status == 200:
            self.streams.append((connection, response))  # the browser's tab stays open
        else:
            response.read()
            connection.close()
        return response

    def close(self):
        for connection, response in self.streams:
            response.close()
            connection.close()


def start_test_email(app, agency, user, smtp_server) -> str:
    point_agency_at(agency, smtp_server())
    client = app.test_client()
    sign_in(client, user)
    started = client.post("/mail-settings/test", headers={"HX-Request": "true"})
    return re.search(r"/mail-settings/test/([0-9a-f]{32})/stream", started.get_data(as_text=True)).group(0)


def test_one_user_cannot_hold_every_thread_with_streams(app, live_server, agency, admin, smtp_server,
                                                        run_worker):
    stream = start_test_email(app, agency, admin, smtp_server)
    browser = Browser(live_server, app, admin)
    try:
        opened = [browser.open_stream(stream) for _ in range(STREAMS_PER_USER)]
        refused = browser.open_stream(stream)
        _connection, page = browser.get("/mail-settings")

        assert [response.status for response in opened] == [200] * STREAMS_PER_USER
        assert refused.status == 429 and refused.headers["Retry-After"] == "15"
        assert page.status == 200  # the site still answers its pages

        run_worker()  # the run ends: each stream gets its result, "done", and frees its slot
        for response in opened:
            assert "event: done" in response.read().decode()
        assert _reopened(browser, stream).status == 200
    finally:
        browser.close()


def _reopened(browser: Browser, path: str):
    # The server frees a slot when it closes the stream, just after the last byte went out.
    for _ in range(50):
        response = browser.open_stream(path)
        if response.status != 429:
            return response
        time.sleep(0.1)
    return response


def test_the_refusal_says_why_in_the_users_language(app, live_server, agency, admin, smtp_server):
    stream = start_test_email(app, agency, admin, smtp_server)
    browser = Browser(live_server, app, admin)
    try:
        for _ in range(STREAMS_PER_USER):
            browser.open_stream(stream)
        connection, refused = browser.get(stream)
        assert refused.status == 429
        assert f"У вас уже открыто {STREAMS_PER_USER} окна с ходом проверки." in refused.read().decode()
    finally:
        browser.close()


def test_an_agency_shares_a_bounded_number_of_streams(app, live_server, agency, admin, make_user,
                                                      smtp_server):
    stream = start_test_email(app, agency, admin, smtp_server)
    colleagues = [Browser(live_server, app, user) for user in
                  (admin, make_user(agency, "second@alpha.example"), make_user(agency, "third@alpha.example"))]
    try:
        statuses = [colleague.open_stream(stream).status
                    for colleague in colleagues[:2] for _ in range(STREAMS_PER_USER)]
        _connection, refused = colleagues[2].get(stream)
        assert statuses == [200] * STREAMS_PER_AGENCY
        assert refused.status == 429
        assert f"У вашего агентства уже открыто {STREAMS_PER_AGENCY}" in refused.read().decode()
    finally:
        for colleague in colleagues:
            colleague.close()


def test_a_process_keeps_half_its_threads_for_pages(app, live_server, agency, admin, make_agency,
                                                    make_user, smtp_server):
    app.config["SSE_STREAMS_PER_PROCESS"] = 3
    stream = start_test_email(app, agency, admin, smtp_server)
    browser = Browser(live_server, app, admin)
    try:
        statuses = [browser.open_stream(stream).status for _ in range(4)]
        _connection, page = browser.get("/")
        assert statuses == [200, 200, 200, 429]
        assert page.status == 200
    finally:
        browser.close()


def test_a_finished_runs_stream_ends_at_once_whatever_the_last_event_id(app, live_server, agency,
                                                                       admin, smtp_server, run_worker):
    stream = start_test_email(app, agency, admin, smtp_server)
    run_worker()
    browser = Browser(live_server, app, admin)
    for last_event_id in ("99999999999999-0", "18446744073709551615-18446744073709551615"):
        started = time.monotonic()
        connection, response = browser.get(stream, {"Last-Event-ID": last_event_id}, timeout=10)
        body = response.read().decode()
        connection.close()
        assert response.status == 200 and body.rstrip().endswith("event: done\ndata:")
        assert "event: step" not in body
        assert time.monotonic() - started < 5


def test_an_expired_stream_of_a_finished_run_ends_at_once(app, live_server, agency, admin,
                                                          smtp_server, run_worker):
    stream = start_test_email(app, agency, admin, smtp_server)
    run_worker()
    redis_connection().delete(*redis_connection().keys("testrun:*"))  # an hour later
    started = time.monotonic()
    connection, response = Browser(live_server, app, admin).get(stream, timeout=10)
    assert "event: done" in response.read().decode()
    connection.close()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("last_event_id", ["abc", "1-2-3", "-1", "1733400000000-x",
                                           "99999999999999999999999-0", "1 OR 1"])
def test_a_malformed_last_event_id_is_a_400_naming_it(admin_client, agency, smtp_server, last_event_id):
    point_agency_at(agency, smtp_server())
    started = admin_client.post("/mail-settings/test", headers={"HX-Request": "true"})
    stream = re.search(r"/mail-settings/test/[0-9a-f]{32}/stream", started.get_data(as_text=True)).group(0)
    response = admin_client.get(stream, headers={"Last-Event-ID": last_event_id})
    assert response.status_code == 400
    assert "Last-Event-ID" in response.get_data(as_text=True)

    started = admin_client.post("/troubleshooting/runs", headers={"HX-Request": "true"})
    stream = re.search(r"/troubleshooting/runs/[0-9a-f]{32}/stream", started.get_data(as_text=True)).group(0)
    assert admin_client.get(stream, headers={"Last-Event-ID": last_event_id}).status_code == 400


@pytest.mark.browser
def test_a_refused_live_view_says_it_waits_then_resumes_by_itself(app, page, live_server, agency, admin,
                                                                  smtp_server, dns_server, run_worker):
    app.config["DNS_NAMESERVERS"] = dns_server().address
    app.config["SSE_STREAMS_PER_PROCESS"] = 1
    test_email = start_test_email(app, agency, admin, smtp_server)
    other_tab = Browser(live_server, app, admin)
    assert other_tab.open_stream(test_email).status == 200  # the one stream this server allows
    browser_sign_in(page, admin)
    page.goto("/troubleshooting")

    page.click("button.run-checks")
    waiting = page.locator("#troubleshoot-run .stream-waiting")
    waiting.wait_for(state="visible")
    assert "открыто слишком много таких окон" in waiting.inner_text()

    run_worker()  # the test email ends, its stream closes and frees the place
    page.wait_for_selector("#troubleshoot-run textarea[readonly]", timeout=20_000)
    assert waiting.is_hidden()
    other_tab.close()
