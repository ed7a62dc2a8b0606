"""The admin is told: a banner on every page while sending fails or is paused, the home page's
view of sending, and emails dropped as too late counted by kind on the troubleshooting page."""
import re
from datetime import timedelta

from conftest import sign_in
from test_troubleshoot_checks import add_email, run
from webapp.extensions import db
from webapp.models import OutboxEmail, SendingPause, TestRun
from webapp.models.types import utcnow
from webapp.notification_kinds import DATA_DEADLINE, REGISTRATION_CONFIRMATION, TIME_LIMIT_WARNING
from webapp.troubleshoot import checks

_serial = iter(range(1, 10_000))


def waiting_email(agency, *, expires_in=None, kind=REGISTRATION_CONFIRMATION):
    now = utcnow()
    db.session.add(OutboxEmail(
        agency_id=agency.id, kind=kind, dedupe_key=f"wait:{next(_serial)}",
        to_address="client@example.org", status="queued", next_attempt_at=now,
        expires_at=now + expires_in if expires_in is not None else None))
    db.session.commit()


def paused(agency, state="paused", hint_code="auth_failed"):
    now = utcnow()
    db.session.add(SendingPause(agency_id=agency.id, state=state, hint_code=hint_code,
                                reply="535 5.7.8 Username and Password not accepted",
                                paused_at=now, retry_at=now + timedelta(minutes=2)))
    db.session.commit()


def banner_of(page: str) -> str:
    match = re.search(r'<section[^>]*id="sending-banner".*?</section>', page, re.S)
    return re.sub(r"\s+", " ", match.group(0)) if match else ""


def test_while_sending_is_paused_every_page_says_why_and_what_waits(admin_client, agency):
    paused(agency)
    waiting_email(agency)
    waiting_email(agency, expires_in=timedelta(minutes=30), kind=TIME_LIMIT_WARNING)
    waiting_email(agency, expires_in=timedelta(hours=5))
    waiting_email(agency, expires_in=timedelta(minutes=-5))

    for path in ("/email-log/", "/", "/troubleshooting", "/templates"):
        banner = banner_of(admin_client.get(path, follow_redirects=True).get_data(as_text=True))
        assert 'data-state="paused"' in banner, path
        assert "Отправка уведомлений приостановлена" in banner
        assert "Логин или пароль не приняты" in banner
        assert "4 письма ждут отправки" in banner
        assert "2 из них будут отброшены как опоздавшие" in banner
        assert "1 письмо уже опоздало" in banner
        assert 'href="/mail-settings#test-email"' in banner


def test_a_first_failure_shows_as_failing_with_the_next_attempt(admin_client, agency):
    paused(agency, state="failing")
    banner = banner_of(admin_client.get("/email-log/").get_data(as_text=True))
    assert 'data-state="failing"' in banner
    assert "Отправка уведомлений не проходит" in banner and "Повторная попытка" in banner


def test_no_banner_while_sending_works(admin_client, agency):
    waiting_email(agency)
    assert 'id="sending-banner"' not in admin_client.get("/email-log/").get_data(as_text=True)


def test_staff_who_are_not_admins_see_the_banner_without_the_settings_link(client, make_user,
                                                                          agency):
    sign_in(client, make_user(agency, "clerk@alpha.example", admin=False))
    paused(agency, hint_code=None)
    banner = banner_of(client.get("/email-log/").get_data(as_text=True))
    assert "приостановлена" in banner and "настройки почты не заполнены" in banner
    assert "/mail-settings" not in banner


def test_another_agencys_pause_is_not_shown(admin_client, make_agency):
    paused(make_agency("beta"))
    assert 'id="sending-banner"' not in admin_client.get("/").get_data(as_text=True)


def test_the_home_page_shows_sending_the_last_test_and_the_last_day(admin_client, agency):
    add_email(agency, "sent", age=timedelta(hours=2))
    add_email(agency, "sent", age=timedelta(hours=30))
    add_email(agency, "failed", hint_code="recipient_rejected", code=550, reason="refused")
    add_email(agency, "failed", hint_code="recipient_rejected", code=550, reason="refused")
    add_email(agency, "failed", reason="too_late")
    waiting_email(agency)
    db.session.add(TestRun(id="c" * 32, agency_id=agency.id, to_address=agency.email, ok=True,
                           created_at=utcnow(), finished_at=utcnow()))
    db.session.commit()

    page = re.sub(r"\s+", " ", admin_client.get("/").get_data(as_text=True))

    assert 'data-state="working"' in page and "Отправка работает" in page
    assert "принято сервером" in page
    assert "1 письмо ждёт отправки" in page
    assert "Отправлено: 1. Не отправлено: 3." in page
    assert re.search(r"Чаще всего: [^<]+ \(2\)", page)
    assert 'href="/email-log/?status=failed"' in page


def test_the_home_page_shows_a_pause_with_its_fix(admin_client, agency):
    paused(agency)
    page = re.sub(r"\s+", " ", admin_client.get("/").get_data(as_text=True))
    state = re.search(r'<section id="sending-state".*?</section>', page).group(0)
    assert 'data-state="paused"' in state
    assert "Приостановлена с" in state and "Логин или пароль не приняты" in state
    assert "535 5.7.8" in state
    assert "Ещё не отправлялось" in state


def test_emails_dropped_as_too_late_are_counted_by_kind(agency):
    assert run(agency, checks.check_too_late).status == "ok"
    for kind in (TIME_LIMIT_WARNING, TIME_LIMIT_WARNING, REGISTRATION_CONFIRMATION, DATA_DEADLINE):
        add_email(agency, "failed", kind=kind, reason="too_late")
    add_email(agency, "failed", kind=DATA_DEADLINE, reason="refused")
    add_email(agency, "failed", kind=DATA_DEADLINE, reason="too_late", age=timedelta(days=40))

    result = run(agency, checks.check_too_late)

    assert result.status == "problem"
    assert result.title.startswith("Писем, отброшенных как опоздавшие, за последние 30 дней: 4")
    assert "Предупреждение о таймлимите оплаты: 2" in result.title
    assert "Подтверждение регистрации: 1" in result.title
    assert "Дедлайн по внесению обязательных данных в бронирование: 1" in result.title
    assert result.link.args["status"] == "failed"
