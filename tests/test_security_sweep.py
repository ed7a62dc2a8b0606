"""Threats checked across the whole site, enumerating the URL map so new routes are covered by
default: CSRF, other agencies' objects, secrets in responses, jobs and logs, production cookies."""
import base64
import logging
import re

import pytest
from rq import Queue
from rq.job import Job

from conftest import sign_in
from outbox_helpers import point_agency_at, queue_confirmation
from webapp import create_app
from webapp.bounces.service import start_check
from webapp.extensions import db
from webapp.jobs import QUEUE_NAMES, redis_connection
from webapp.models import OutboxDocument
from webapp.outbox.documents import Document
from webapp.outbox.service import queue_email
from webapp.smtpcheck.service import start_test_run
from webapp.troubleshoot.service import start_run as start_troubleshooting

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# The booking engine's API authenticates with a bearer token, never a cookie: no CSRF there.
CSRF_EXEMPT = {"api"}
SAMPLE_ARGUMENTS = {
    "number": "291205", "token": "x", "run_id": "0" * 32, "key": "x", "name": "host",
    "slug": "alpha", "kind": "order_change", "language": "ru", "user_id": 1,
    "section": "templates", "filename": "app.css", "email_id": 1, "document_id": 1,
}
# Routes whose URL names an object, and how to name another agency's object there.
OTHER_AGENCYS_OBJECT = {
    "staff.profile": lambda other: {"user_id": other["admin"].id},
    "smtpcheck.show": lambda other: {"run_id": other["test_run"]},
    "smtpcheck.stream": lambda other: {"run_id": other["test_run"]},
    "troubleshoot.show": lambda other: {"run_id": other["troubleshooting_run"]},
    "troubleshoot.stream": lambda other: {"run_id": other["troubleshooting_run"]},
    "emaillog.download_document": lambda other: other["document"],
    "bounces.check_stream": lambda other: {"run_id": other["mailbox_check"]},
}
# Routes with URL arguments that name no agency's object, and why.
NOT_TENANT_OBJECTS = {
    "static": "vendored files",
    "main.coming": "a section name",
    "mailsettings.validate_field": "a field name of the signed-in agency's form",
    "templates.edit": "kind and language of the signed-in agency's templates",
    "templates.save": "kind and language of the signed-in agency's templates",
    "templates.restore_default": "kind and language of the signed-in agency's templates",
    "templates.set_enabled": "kind and language of the signed-in agency's templates",
    "templates.show_preview": "kind and language of the signed-in agency's templates",
    "registration.register": "the public registration form of an agency, for its clients",
    "registration.confirm_page": "a signed confirmation token, for clients",
    "registration.confirm_registration": "a signed confirmation token, for clients",
    "catcher.message": "development-only inbox of the local mail catcher",
    "api.change_order": "the bearer token decides the agency (tests/test_api_access.py)",
    "api.payment_problem": "the bearer token decides the agency (tests/test_api_access.py)",
    "api.issue_order": "the bearer token decides the agency (tests/test_api_access.py)",
    "api.cancel_order": "the bearer token decides the agency (tests/test_api_access.py)",
    "api.record_payment": "the bearer token decides the agency (tests/test_api_access.py)",
}


def _rules(app, methods):
    return [rule for rule in app.url_map.iter_rules() if rule.methods & methods]


def _url(rule, arguments=None):
    values = {name: (arguments or {}).get(name, SAMPLE_ARGUMENTS[name]) for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


@pytest.fixture
def csrf_app(app_config, request):
    app_config["WTF_CSRF_ENABLED"] = True
    app_config["DEV_TOOLS"] = True
    return request.getfixturevalue("app")


def test_every_url_argument_is_known_to_these_tests(app):
    unknown = {name for rule in app.url_map.iter_rules() for name in rule.arguments} - set(SAMPLE_ARGUMENTS)
    assert unknown == set(), "add sample values (and the cross-agency case) for new URL arguments"


def test_every_state_changing_route_refuses_a_request_without_csrf_token(csrf_app, admin):
    client = csrf_app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    client.post("/sign-in", data={"email": admin.email, "password": "correct horse battery",
                                  "csrf_token": token.group(1) or token.group(2)})
    assert client.get("/").status_code == 200, "could not sign in with a CSRF token"

    checked = []
    for rule in _rules(csrf_app, STATE_CHANGING):
        if rule.endpoint.split(".")[0] in CSRF_EXEMPT:
            continue
        for method in rule.methods & STATE_CHANGING:
            response = client.open(_url(rule), method=method, data={"anything": "1"})
            assert response.status_code == 400, f"{method} {rule.rule} accepted a request without CSRF"
            assert "Срок действия формы истёк" in response.get_data(as_text=True)
            checked.append(rule.endpoint)
    assert len(checked) >= 15


def test_every_object_route_hides_other_agencies_objects(app, client, agency, admin, make_agency,
                                                         make_user, smtp_server):
    other_agency = make_agency("beta")
    other_admin = make_user(other_agency)
    point_agency_at(other_agency, smtp_server())
    other = {"admin": other_admin, "test_run": start_test_run(other_agency, other_admin).id,
             "troubleshooting_run": start_troubleshooting(other_agency, other_admin, "ru"),
             "document": _document_of(other_agency), "mailbox_check": start_check(other_agency.id)}
    sign_in(client, admin)

    for rule in app.url_map.iter_rules():
        if not rule.arguments:
            continue
        assert rule.endpoint in OTHER_AGENCYS_OBJECT or rule.endpoint in NOT_TENANT_OBJECTS, \
            f"{rule.rule}: say how another agency's object is refused here, or why it names none"
        if rule.endpoint in OTHER_AGENCYS_OBJECT:
            url = _url(rule, OTHER_AGENCYS_OBJECT[rule.endpoint](other))
            assert client.get(url).status_code == 404, f"{url} showed another agency's object"


def _document_of(agency) -> dict:
    """An email of the agency with a document: the URL arguments of its download."""
    queue_email(agency.id, "booking_issued", "anna@example.org", {}, "booking_issued:sweep",
                documents=[Document("ticket.pdf", "application/pdf", b"%PDF-1.4 secret")])
    db.session.commit()
    document = db.session.execute(db.select(OutboxDocument)).scalar_one()
    return {"email_id": document.outbox_email_id, "document_id": document.id}


SECRET = "Pw-sweep-7f3a9c2e-Ünïcode"


def _secret_forms(login):
    return [SECRET, base64.b64encode(SECRET.encode()).decode(),
            base64.b64encode(f"\0{login}\0{SECRET}".encode()).decode()]


def test_the_smtp_password_never_leaves_the_server(app, client, agency, admin, smtp_server,
                                                   run_worker, caplog):
    caplog.set_level(logging.DEBUG)
    login = "office@alpha.example"
    server = smtp_server(login=login, password=SECRET)
    point_agency_at(agency, server, login=login, password=SECRET)
    sign_in(client, admin)

    client.post("/mail-settings/test")
    queue_confirmation(agency)
    client.post("/troubleshooting/runs")
    jobs = [Job.fetch(job_id, connection=redis_connection())
            for name in QUEUE_NAMES for job_id in Queue(name, connection=redis_connection()).job_ids]
    assert jobs, "expected queued jobs to inspect"
    job_arguments = " ".join(repr((job.args, job.kwargs)) for job in jobs)
    run_worker()
    assert len(server.handler.received) == 2  # the test email and the notification went out

    bodies = [job_arguments, caplog.text]
    for rule in _rules(app, {"GET"}):
        if rule.arguments or rule.endpoint in ("static",):
            continue
        bodies.append(client.get(rule.rule).get_data(as_text=True))
    for run in db.session.execute(db.text("SELECT id FROM test_run")).scalars():
        bodies.append(client.get(f"/mail-settings/test/{run}").get_data(as_text=True))
        bodies.append(client.get(f"/mail-settings/test/{run}/stream").get_data(as_text=True))
    everything = "\n".join(bodies)
    assert "AUTH" in everything  # the transcript is there, redacted
    for form in _secret_forms(login):
        assert form not in everything


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("MAIL_SECRET_KEYS", "x" * 43 + "=")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite'}")
    monkeypatch.setenv("PUBLIC_URL", "https://mail.agency.example")
    config = create_app().config
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_error_pages_are_readable_and_the_api_keeps_json(admin_client):
    page = admin_client.get("/no-such-page")
    assert page.status_code == 404 and "Такой страницы нет" in page.get_data(as_text=True)
    api = admin_client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.is_json
