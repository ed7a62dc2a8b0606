"""The test email tests what the administrator typed in the settings form, saves nothing, and
every refusal reaches the page (issue 16: items 4 and 5)."""
import re
import zlib

import pytest
from rq.job import Job

from mailsettings_data import change_count
from outbox_helpers import point_agency_at
from webapp import mail_secrets
from webapp.extensions import db
from webapp.jobs import redis_connection
from webapp.models import MailSettings, SendingPause, TestRun
from webapp.models.types import utcnow
from webapp.smtpcheck import service as smtpcheck_service

from fixtures_smtp import free_port

HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/mail-settings"}


def typed(server_port, **changes) -> dict:
    """The connection part of the settings form as a browser posts it."""
    data = {"host": "localhost", "port": str(server_port), "security": "none", "login": "",
            "password": "", "sender_address": "", "sender_name": "Альфа-Тур",
            "agency_email": "office@alpha.example", "copies_email": "", "order_change_emails": "yes"}
    data.update(changes)
    return data


def only_run() -> TestRun:
    return db.session.execute(db.select(TestRun)).scalar_one()


def saved() -> MailSettings:
    db.session.expire_all()
    return db.session.execute(db.select(MailSettings)).scalar_one()


def everything_in_redis() -> bytes:
    """Every value Redis holds, RQ's job hashes (their zlib-compressed pickles) decompressed."""
    redis, found = redis_connection(), []
    for key in redis.keys("*"):
        kind = redis.type(key)
        if kind == b"string":
            found.append(redis.get(key) or b"")
        elif kind == b"hash":
            found.extend(redis.hgetall(key).values())
        elif kind == b"list":
            found.extend(redis.lrange(key, 0, -1))
        elif kind in (b"set", b"zset"):
            found.extend(redis.smembers(key) if kind == b"set" else redis.zrange(key, 0, -1))
    for value in list(found):
        try:
            found.append(zlib.decompress(value))
        except zlib.error:
            pass
    return b"\n".join(found)


def test_the_test_uses_the_values_in_the_form_and_saves_nothing(admin_client, agency, smtp_server, run_worker):
    server = smtp_server()
    dead_port = free_port()
    point_agency_at(agency, server, login="office@alpha.example", password="old")
    agency.mail_settings.port = dead_port  # saved: nothing listens there
    db.session.commit()
    before = change_count()

    started = admin_client.post("/mail-settings/test", data=typed(server.port), headers=HX)
    assert started.status_code == 200
    run_worker()

    run = only_run()
    assert run.ok is True, run.steps
    assert "auth" not in [step["step"] for step in run.steps]  # the login was cleared in the form
    assert len(server.handler.received) == 1
    assert (saved().port, saved().login) == (dead_port, "office@alpha.example")
    assert change_count() == before


def test_the_result_offers_to_save_values_that_are_not_saved(admin_client, agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    agency.mail_settings.port = free_port()
    db.session.commit()
    admin_client.post("/mail-settings/test", data=typed(server.port), headers=HX)
    run_worker()
    result = admin_client.get(f"/mail-settings/test/{only_run().id}").text
    assert "Эти значения не сохранены" in result
    last_test = admin_client.get("/mail-settings").text.split('class="last-test"', 1)[1].split("</p>", 1)[0]
    assert "Проверялись значения, которые не сохранены" in last_test


def test_an_empty_password_field_tests_with_the_stored_password(admin_client, agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="stored-secret", auth_required=True)
    point_agency_at(agency, server, login="office@alpha.example", password="stored-secret")

    admin_client.post("/mail-settings/test", headers=HX,
                      data=typed(server.port, login="office@alpha.example", sender_address="tours@alpha.example"))
    run_worker()

    run = only_run()
    assert run.ok is True, run.steps
    assert server.handler.received[0].mail_from == "tours@alpha.example"


def test_a_typed_password_is_used_and_never_kept(admin_client, agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="new-secret", auth_required=True)
    point_agency_at(agency, server, login="office@alpha.example", password="old-secret")

    admin_client.post("/mail-settings/test", headers=HX,
                      data=typed(server.port, login="office@alpha.example", password="new-secret"))
    run = only_run()
    job = Job.fetch(f"testrun-{run.id}", connection=redis_connection())
    assert job.args == (run.id,) and job.kwargs == {}  # the job takes the run's id, nothing else
    assert b"new-secret" not in everything_in_redis()
    run_worker()
    db.session.expire_all()

    assert only_run().ok is True
    assert mail_secrets.decrypt(saved().password_encrypted) == "old-secret"
    assert redis_connection().keys("testrun:*:password") == []


def test_another_server_without_the_password_is_refused_on_the_password_field(admin_client, agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server, login="office@alpha.example", password="stored-secret")

    refused = admin_client.post("/mail-settings/test", headers=HX,
                                data=typed(server.port, host="smtp.elsewhere.example",
                                           login="office@alpha.example"))

    assert refused.status_code == 422
    password_message = refused.text.split('id="password-message"', 1)[1]
    assert 'class="field-error"' in password_message and "Введите пароль" in password_message
    assert db.session.execute(db.select(TestRun)).first() is None


def test_wrong_values_are_named_field_by_field(admin_client, agency, smtp_server):
    point_agency_at(agency, smtp_server())
    refused = admin_client.post("/mail-settings/test", headers=HX, data=typed("port?", login="a\nb"))
    assert refused.status_code == 422
    assert 'id="port-message"' in refused.text and 'id="login-message"' in refused.text
    assert "Порт: введите целое число" in refused.text


def test_a_successful_test_of_unsaved_values_does_not_resume_sending(admin_client, agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    agency.mail_settings.port = free_port()
    db.session.add(SendingPause(agency_id=agency.id, hint_code="connection_refused", reply="",
                                paused_at=utcnow()))
    db.session.commit()

    admin_client.post("/mail-settings/test", data=typed(server.port), headers=HX)
    run_worker()

    assert only_run().ok is True
    assert db.session.get(SendingPause, agency.id) is not None


def test_the_page_says_the_test_uses_the_form(admin_client, agency):
    page = admin_client.get("/mail-settings").text
    assert 'form="mail-settings"' in page.split('class="send-test"', 1)[0].rsplit("<button", 1)[1] + \
        page.split('class="send-test"', 1)[1].split(">", 1)[0]
    assert "Проверяются значения из формы ниже" in page


def test_the_rate_limit_says_when_the_next_test_is_allowed(app, admin_client, agency, smtp_server):
    point_agency_at(agency, smtp_server())
    app.config["TEST_EMAIL_RUNS_PER_HOUR"] = 1
    admin_client.post("/mail-settings/test", headers=HX)
    first = only_run()

    refused = admin_client.post("/mail-settings/test", headers=HX)

    assert refused.status_code == 429
    next_at = re.search(r"Следующее можно отправить в (\d{1,2}:\d\d)", refused.text).group(1)
    hour, minute = map(int, next_at.split(":"))
    assert (hour, minute) == ((first.created_at.hour + 1) % 24, first.created_at.minute)


@pytest.mark.parametrize("path", ["/mail-settings/validate/host", "/mail-settings/test"])
def test_an_expired_session_answers_htmx_with_a_sign_in_link_back(client, agency, path):
    answer = client.post(path, data={"host": "smtp.yandex.ru"}, headers=HX)
    assert answer.status_code == 401
    assert "Сеанс истёк" in answer.text
    assert 'href="/sign-in?next=/mail-settings"' in answer.text
    assert "<html" not in answer.text  # a message for the place the answer goes, not a page


def test_an_expired_session_with_csrf_on_is_a_401_too(app_config, client, agency):
    app_config["WTF_CSRF_ENABLED"] = True
    client.application.config["WTF_CSRF_ENABLED"] = True
    answer = client.post("/mail-settings/test", headers={**HX, "X-CSRFToken": "stale"})
    assert answer.status_code == 401 and "Войти снова" in answer.text


def test_without_htmx_an_expired_session_still_redirects_to_sign_in(client, agency):
    answer = client.get("/mail-settings")
    assert answer.status_code == 302 and "/sign-in?next=" in answer.headers["Location"]


def test_the_stored_password_is_checked_again_when_the_job_runs(admin_client, agency, smtp_server, run_worker):
    """Admin X saves a server of their own with a junk password and starts a test; before the
    job runs, admin Y saves the real server and the real password: the job must not send Y's
    password to X's server."""
    elsewhere = smtp_server(login="office@alpha.example", password="real-secret", auth_required=True)
    point_agency_at(agency, elsewhere, login="office@alpha.example", password="junk")
    admin_client.post("/mail-settings/test", headers=HX)  # the saved settings, stored password

    real = smtp_server(login="office@alpha.example", password="real-secret", auth_required=True)
    settings = agency.mail_settings
    settings.host, settings.port = "127.0.0.1", real.port
    settings.password_encrypted = mail_secrets.encrypt("real-secret")
    db.session.commit()
    run_worker()

    run = only_run()
    assert run.ok is False and run.hint_code == "stored_password_elsewhere"
    assert elsewhere.handler.auth_attempts == [] and elsewhere.handler.received == []
    result = admin_client.get(f"/mail-settings/test/{run.id}").text
    assert "Сохранённый пароль не отправлен" in result and 'data-field="password"' in result


def test_a_retried_job_still_has_the_typed_password(admin_client, agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="new-secret", auth_required=True)
    point_agency_at(agency, server, login="office@alpha.example", password="old-secret")
    admin_client.post("/mail-settings/test", headers=HX,
                      data=typed(server.port, login="office@alpha.example", password="new-secret"))
    smtpcheck_service.tested_settings(only_run())  # a first attempt of the job read the password, then died

    run_worker()  # the retry

    db.session.expire_all()
    assert only_run().ok is True, only_run().steps
    assert redis_connection().keys("testrun:*:password") == []


def test_a_failed_run_deletes_the_typed_password(admin_client, agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="right", auth_required=True)
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    admin_client.post("/mail-settings/test", headers=HX,
                      data=typed(server.port, login="office@alpha.example", password="wrong"))
    run_worker()
    assert only_run().ok is False
    assert redis_connection().keys("testrun:*:password") == []


def test_an_expired_typed_password_says_so_on_the_password_field(admin_client, agency, smtp_server, run_worker):
    server = smtp_server(login="office@alpha.example", password="new-secret", auth_required=True)
    point_agency_at(agency, server, login="office@alpha.example", password="old-secret")
    admin_client.post("/mail-settings/test", headers=HX,
                      data=typed(server.port, login="office@alpha.example", password="new-secret"))
    for key in redis_connection().keys("testrun:*:password"):
        redis_connection().delete(key)  # the job waited longer than the password is kept

    run_worker()

    run = only_run()
    assert run.ok is False and run.hint_code == "typed_password_expired"
    assert server.handler.auth_attempts == []
    result = admin_client.get(f"/mail-settings/test/{run.id}").text
    assert "Срок хранения введённого пароля истёк" in result and 'data-field="password"' in result
    # The page that started it gets the result through the stream: the message goes to the
    # password field's own container too.
    streamed = admin_client.get(f"/mail-settings/test/{run.id}/stream").text
    field = streamed.split('id="password-message"', 1)[1].split("</div>", 1)[0]
    assert 'hx-swap-oob="true"' in field and "Введите пароль ещё раз" in field
    last_test = admin_client.get("/mail-settings").text.split('class="last-test"', 1)[1].split("</p>", 1)[0]
    assert "Срок хранения введённого пароля истёк" in last_test


def test_the_pause_notice_says_what_resumes_sending(admin_client, agency):
    db.session.add(SendingPause(agency_id=agency.id, hint_code="auth_failed", reply="535 no", paused_at=utcnow()))
    db.session.commit()
    notice = admin_client.get("/mail-settings").text.split('class="flash flash-error paused"', 1)[1].split("</p>", 1)[0]
    assert "фоновая проверка сохранённых настроек" in notice
    assert "изменённые настройки подключения" in notice
    assert "успешного тестового письма с сохранёнными настройками" in notice
