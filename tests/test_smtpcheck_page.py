"""The test email from the mail-settings page: a run, its live stream, its stored result."""
import email
import json
import re
from email import policy

from conftest import flask_cli, sign_in
from outbox_helpers import point_agency_at
from webapp.extensions import db
from webapp.models import SendingPause, TestRun

HX = {"HX-Request": "true"}


def _stream_events(client, run_id, last_event_id=None):
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"/mail-settings/test/{run_id}/stream", headers=headers)
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    return [dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            for block in body.strip().split("\n\n") if not block.startswith(":")]


def _start(client, headers=HX):
    return client.post("/mail-settings/test", headers=headers)


def test_steps_stream_in_order_and_the_stream_ends(admin_client, agency, smtp_server, run_worker):
    point_agency_at(agency, smtp_server())
    started = _start(admin_client)
    assert started.status_code == 200
    run_id = re.search(r'/mail-settings/test/([0-9a-f]{32})/stream', started.get_data(as_text=True)).group(1)
    assert 'sse-close="done"' in started.get_data(as_text=True)

    run_worker()
    events = _stream_events(admin_client, run_id)

    steps = [re.search(r'data-step="(\w+)"', e["data"]).group(1) for e in events if e["event"] == "step"]
    assert steps == ["resolve", "connect", "greeting", "ehlo", "mail_from", "rcpt_to", "data", "quit"]
    assert [e["event"] for e in events][-2:] == ["result", "done"]
    assert "The test email was accepted" not in events[-2]["data"]  # Russian by default
    assert "Тестовое письмо принято" in events[-2]["data"]


def test_a_reconnecting_subscriber_gets_only_what_it_missed(admin_client, agency, smtp_server, run_worker):
    point_agency_at(agency, smtp_server())
    _start(admin_client)
    run_worker()
    run = db.session.execute(db.select(TestRun)).scalar_one()
    first = _stream_events(admin_client, run.id)
    again = _stream_events(admin_client, run.id, last_event_id=first[2]["id"])
    assert again == first[3:]


def test_a_failure_ends_with_the_hint_naming_the_field(admin_client, agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="right")
    point_agency_at(agency, server, login="office@alpha.example", password="wrong-password")
    _start(admin_client)
    run_worker()
    run = db.session.execute(db.select(TestRun)).scalar_one()

    events = _stream_events(admin_client, run.id)
    result = events[-2]["data"]
    assert 'data-hint="auth_failed"' in result
    assert 'href="/mail-settings#password"' in result
    body = json.dumps(events) + json.dumps(run.steps)
    assert "wrong-password" not in body
    assert run.ok is False and run.failed_step == "auth" and run.hint_code == "auth_failed"


def test_without_javascript_the_button_leads_to_the_result_page(admin_client, agency, smtp_server, run_worker):
    point_agency_at(agency, smtp_server())
    started = _start(admin_client, headers={})
    assert started.status_code == 303
    waiting = admin_client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in waiting

    run_worker()
    page = admin_client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    assert 'data-step="quit"' in page and "Тестовое письмо принято" in page


def test_runs_are_limited_per_agency_per_hour(app, admin_client, agency, smtp_server):
    point_agency_at(agency, smtp_server())
    app.config["TEST_EMAIL_RUNS_PER_HOUR"] = 3
    assert [_start(admin_client).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert "не больше 3 в час" in _start(admin_client).get_data(as_text=True)


def test_a_test_needs_the_agency_email(admin_client, agency):
    agency.email = None
    db.session.commit()
    response = _start(admin_client)
    assert response.status_code == 400
    assert 'href="/mail-settings#agency_email"' in response.get_data(as_text=True)


def test_another_agencys_run_is_not_found(client, agency, make_agency, make_user, smtp_server):
    point_agency_at(agency, smtp_server())
    sign_in(client, make_user(agency))
    _start(client)
    run = db.session.execute(db.select(TestRun)).scalar_one()
    client.post("/sign-out")
    sign_in(client, make_user(make_agency("beta")))
    assert client.get(f"/mail-settings/test/{run.id}").status_code == 404
    assert client.get(f"/mail-settings/test/{run.id}/stream").status_code == 404


def test_staff_who_are_not_admins_cannot_start_a_test(client, agency, make_user):
    sign_in(client, make_user(agency, email="clerk@alpha.example", admin=False))
    assert _start(client).status_code == 403


def test_cli_json_contract_success_and_failure(app, flask_env, smtp_server):
    server = smtp_server()
    ok = flask_cli(flask_env, "mail", "test", "--host", "localhost", "--port", str(server.port),
                   "--security", "none", "--to", "office@alpha.example", "--json")
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["ok"] is True and result["failed_step"] is None and result["hint"] is None
    assert [s["step"] for s in result["steps"]][:2] == ["resolve", "connect"]
    assert set(result["steps"][0]) >= {"step", "ok", "code", "reply", "ms"}

    flask_env["SMTP_PASSWORD"] = "not-the-password"
    refused = smtp_server(login="office@alpha.example", password="right")
    failed = flask_cli(flask_env, "mail", "test", "--host", "localhost", "--port", str(refused.port),
                       "--security", "none", "--to", "office@alpha.example", "--login",
                       "office@alpha.example", "--password-env", "SMTP_PASSWORD", "--json")
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["failed_step"] == "auth" and result["hint"]["code"] == "auth_failed"
    assert result["hint"]["field"] in ("password", "login")
    assert "not-the-password" not in failed.stdout + failed.stderr


def test_cli_bad_arguments_exit_2(app, flask_env):
    bad_port = flask_cli(flask_env, "mail", "test", "--host", "localhost", "--port", "70000",
                         "--security", "none", "--to", "a@b.example")
    assert bad_port.returncode == 2 and "--port" in bad_port.stderr
    bad_security = flask_cli(flask_env, "mail", "test", "--host", "localhost", "--port", "25",
                             "--security", "ssl", "--to", "a@b.example")
    assert bad_security.returncode == 2 and "--security" in bad_security.stderr
    no_host = flask_cli(flask_env, "mail", "test", "--to", "a@b.example")
    assert no_host.returncode == 2 and "--host" in no_host.stderr


def test_cli_uses_an_agencys_saved_settings(app, agency, flask_env, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    result = flask_cli(flask_env, "mail", "test", "--agency", agency.slug, "--json")
    assert result.returncode == 0, result.stderr
    assert server.handler.received[0].rcpt_tos == [agency.email]


def test_the_test_email_uses_the_agencys_template(admin_client, agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    _start(admin_client)
    run_worker()
    message = email.message_from_bytes(server.handler.received[0].content, policy=policy.default)
    assert message["Subject"] == "Тестовое письмо от Alpha"


def test_a_test_needs_a_server_first(admin_client, agency):
    agency.mail_settings.host = ""
    db.session.commit()
    response = _start(admin_client)
    assert response.status_code == 400
    assert 'href="/mail-settings#host"' in response.get_data(as_text=True)


def test_a_cli_test_of_the_saved_settings_resumes_a_paused_agency(app, agency, flask_env, smtp_server):
    point_agency_at(agency, smtp_server())
    db.session.add(SendingPause(agency_id=agency.id, hint_code="auth_failed", reply="535"))
    db.session.commit()

    overridden = flask_cli(flask_env, "mail", "test", "--agency", agency.slug, "--sender-name", "X")
    assert overridden.returncode == 0, overridden.stderr
    assert db.session.execute(db.select(SendingPause)).first() is not None  # proves nothing saved

    saved = flask_cli(flask_env, "mail", "test", "--agency", agency.slug)
    assert saved.returncode == 0, saved.stderr
    db.session.expire_all()
    assert db.session.execute(db.select(SendingPause)).first() is None
