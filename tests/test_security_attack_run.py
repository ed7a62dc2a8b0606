"""Defects an outside attack run found (issue 19, items 1, 2, 9, 10): changes of one order at
once, live streams that held the site's threads, requests that answered 500, a retried
Idempotency-Key answered 409, and a dev inbox that showed every agency's mail."""
import json
import re
import threading
import urllib.request
from types import SimpleNamespace

import pytest
from redis import Redis

from api_fixtures import ORDER, outbox
from conftest import PASSWORD, free_port, sign_in
from outbox_helpers import point_agency_at, queue_confirmation
from webapp import create_app
from webapp import notification_kinds as kinds
from webapp.api.service import issue_token
from webapp.catcher.service import start_catcher
from webapp.extensions import db
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
