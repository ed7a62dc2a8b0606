"""The operator channel: when an agency's sending pauses, its admins get an email through the
operator's own server (OPERATOR_SMTP_URL), once per pause, with no secret in it."""
import base64
import email
import logging
from email import policy
from urllib.parse import quote

import pytest

from outbox_helpers import minutes_pass, point_agency_at, queue_confirmation
from webapp.config import Config, parse_operator_smtp_url
from webapp.extensions import db
from webapp.models import SendingPause
from webapp.outbox.sender import current_pause, pause, resume, send_due

OPERATOR_PASSWORD = "op-Secret-42!"
AGENCY_PASSWORD = "agency-Secret-17"


@pytest.fixture
def operator_server(smtp_server):
    return smtp_server(login="alerts@console.example", password=OPERATOR_PASSWORD)


@pytest.fixture
def app_config(app_config, operator_server):
    url = (f"smtp://{quote('alerts@console.example')}:{quote(OPERATOR_PASSWORD)}"
           f"@127.0.0.1:{operator_server.port}?security=none")
    return app_config | {"OPERATOR_SMTP": parse_operator_smtp_url(url)}


def secrets_in(content: bytes) -> list[str]:
    forms = [OPERATOR_PASSWORD, AGENCY_PASSWORD,
             base64.b64encode(OPERATOR_PASSWORD.encode()).decode(),
             base64.b64encode(AGENCY_PASSWORD.encode()).decode()]
    return [secret for secret in forms if secret.encode() in content]


def pause_by_two_refused_logins(agency, smtp_server):
    server = smtp_server(login="office@alpha.example", password="right",
                         replies={"AUTH": "535 5.7.8 Username and Password not accepted"})
    point_agency_at(agency, server, login="office@alpha.example", password=AGENCY_PASSWORD)
    queue_confirmation(agency, expires_at=None)
    send_due(agency.id)
    minutes_pass(agency)
    send_due(agency.id)
    assert current_pause(agency.id) is not None


def test_a_pause_emails_the_agencys_admins_through_the_operators_server(
        operator_server, agency, admin, make_user, smtp_server, run_worker):
    make_user(agency, "clerk@alpha.example", admin=False)
    pause_by_two_refused_logins(agency, smtp_server)

    run_worker()

    [notice] = operator_server.handler.received
    assert notice.rcpt_tos == [admin.email]
    assert notice.mail_from == "alerts@console.example"
    message = email.message_from_bytes(notice.content, policy=policy.default)
    body = message.get_content()
    assert message["Subject"] == "Отправка писем агентства «Alpha» приостановлена"
    assert "Отправка уведомлений клиентам агентства «Alpha» приостановлена" in body
    assert "Логин или пароль не приняты" in body and "5.7.8 Username and Password" in body
    assert "Писем ждут отправки: 1." in body
    assert secrets_in(notice.content) == [] and secrets_in(body.encode()) == []
    assert operator_server.handler.auth_attempts == [("PLAIN", "alerts@console.example")]


def test_the_admins_are_told_once_per_pause(operator_server, agency, admin, smtp_server, run_worker):
    pause_by_two_refused_logins(agency, smtp_server)
    run_worker()
    pause(agency.id, "auth_failed", "535 again")  # a second worker finding it paused
    run_worker()
    assert len(operator_server.handler.received) == 1

    resume(agency.id)
    pause(agency.id, None, "settings incomplete")
    run_worker()

    assert len(operator_server.handler.received) == 2


def test_without_the_channel_nobody_is_emailed(app, agency, admin, operator_server, run_worker):
    app.config["OPERATOR_SMTP"] = None
    pause(agency.id, "auth_failed", "535")
    run_worker()
    assert operator_server.handler.received == []


def test_a_failing_operator_server_logs_no_password(app, agency, admin, smtp_server, run_worker,
                                                   caplog):
    closed = smtp_server(login="alerts@console.example", password="another")  # refuses ours
    app.config["OPERATOR_SMTP"] = parse_operator_smtp_url(
        f"smtp://alerts%40console.example:{quote(OPERATOR_PASSWORD)}@127.0.0.1:{closed.port}"
        "?security=none")
    caplog.set_level(logging.DEBUG)

    pause(agency.id, "auth_failed", "535")
    run_worker()

    assert closed.handler.auth_attempts  # it did try
    assert "operator channel" in caplog.text
    assert OPERATOR_PASSWORD not in caplog.text
    assert base64.b64encode(OPERATOR_PASSWORD.encode()).decode() not in caplog.text
    # Not marked told: the retry may still tell them.
    assert db.session.execute(db.select(SendingPause.admins_told_at)).scalar_one() is None


def test_the_url_is_read_from_the_environment_and_its_password_never_shown(monkeypatch, tmp_path):
    monkeypatch.setenv("OPERATOR_SMTP_URL", f"smtps://ops%40host.example:{quote(OPERATOR_PASSWORD)}"
                                            "@mail.host.example")
    operator = Config(str(tmp_path)).OPERATOR_SMTP
    assert (operator.host, operator.port, operator.security) == ("mail.host.example", 465, "tls")
    assert (operator.login, operator.password) == ("ops@host.example", OPERATOR_PASSWORD)
    assert operator.sender_address == "ops@host.example"
    assert OPERATOR_PASSWORD not in repr(operator)
    starttls = parse_operator_smtp_url("smtp://relay.example?from=console@host.example")
    assert (starttls.port, starttls.security, starttls.login) == (587, "starttls", "")


@pytest.mark.parametrize("url, message", [
    (f"http://u:{OPERATOR_PASSWORD}@host", "smtp:// or smtps://"),
    (f"smtp://u:{OPERATOR_PASSWORD}@host:99999", "port"),
    (f"smtp://u:{OPERATOR_PASSWORD}@host", "?from="),
])
def test_a_wrong_url_is_refused_with_a_message_that_hides_the_password(url, message):
    with pytest.raises(ValueError) as refused:
        parse_operator_smtp_url(url)
    assert message in str(refused.value) and OPERATOR_PASSWORD not in str(refused.value)
