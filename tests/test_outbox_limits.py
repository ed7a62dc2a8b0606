"""An agency's sending rate holds: what the limit holds back waits, shown in the email log with
the time it goes, never failed; the providers' published limits are the defaults."""
import collections
import re
from datetime import timedelta

from outbox_helpers import point_agency_at
from webapp.extensions import db
from webapp.mailsettings.presets import PRESETS, preset_for_host
from webapp.models import OutboxEmail
from webapp.models.types import utcnow
from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
from webapp.outbox import limits, reasons
from webapp.outbox.sender import send_due
from webapp.outbox.service import queue_email


def queue(agency, count):
    for n in range(count):
        queue_email(agency.id, REGISTRATION_CONFIRMATION, f"client{n}@example.org",
                    sample_context(REGISTRATION_CONFIRMATION), f"registration:{n}")
    db.session.commit()


def rows():
    db.session.expire_all()
    return db.session.execute(db.select(OutboxEmail).order_by(OutboxEmail.id)).scalars().all()


def test_a_rate_per_minute_holds_and_the_rest_waits_for_it(agency, smtp_server, admin_client):
    server = smtp_server()
    point_agency_at(agency, server)
    agency.mail_settings.rate_per_minute = 5
    db.session.commit()
    queue(agency, 12)
    start = utcnow()

    send_due(agency.id, now=start)

    assert len(server.handler.received) == 5
    waiting = [row for row in rows() if row.status == "queued"]
    assert len(waiting) == 7
    assert {row.status_reason for row in waiting} == {reasons.WAITING_FOR_LIMIT}
    goes_at = {row.next_attempt_at for row in waiting}
    (opens,) = goes_at
    assert start < opens <= start + timedelta(seconds=60)
    page = admin_client.get("/email-log/").get_data(as_text=True)
    # The site speaks Russian by default: "waiting for the sending limit ...; goes at <time>".
    assert page.count("Ждёт лимита отправки почтового ящика агентства; уйдёт в") == 7
    assert not [row for row in rows() if row.status == "failed"]

    send_due(agency.id, now=opens - timedelta(seconds=1))  # not yet: the minute is not over
    assert len(server.handler.received) == 5
    send_due(agency.id, now=opens)
    assert len(server.handler.received) == 10
    (opens,) = {row.next_attempt_at for row in rows() if row.status == "queued"}
    send_due(agency.id, now=opens)

    assert collections.Counter(row.status for row in rows()) == {"sent": 12}
    assert len(server.handler.received) == 12


def test_a_daily_limit_holds_until_the_day_has_passed(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    agency.mail_settings.rate_per_day = 3
    db.session.commit()
    queue(agency, 5)
    start = utcnow()

    send_due(agency.id, now=start)
    send_due(agency.id, now=start + timedelta(hours=12))

    assert len(server.handler.received) == 3
    (opens,) = {row.next_attempt_at for row in rows() if row.status == "queued"}
    assert start + timedelta(hours=23) < opens <= start + timedelta(hours=24)
    send_due(agency.id, now=opens)
    assert len(server.handler.received) == 5


def test_the_providers_published_limits_are_the_defaults(agency):
    settings = agency.mail_settings
    published = {preset.host: (preset.per_minute, preset.per_day) for preset in PRESETS}
    for host, expected in published.items():
        settings.host = host
        db.session.commit()
        assert limits.rates(agency.id) == limits.Rates(*expected)
    assert published["smtp.office365.com"] == (30, 10000)
    assert published["smtp.yandex.ru"] == (None, 500)
    assert published["smtp.mail.ru"] == (None, None)  # Mail.ru publishes none
    assert all(preset.limits_source.startswith("https://") for preset in PRESETS
               if preset.per_minute or preset.per_day)
    settings.host, settings.rate_per_day = "smtp.yandex.ru", 200
    db.session.commit()
    assert limits.rates(agency.id) == limits.Rates(None, 200)  # the agency's own wins


def test_the_connection_cap_stays_within_safe_bounds(agency):
    settings = agency.mail_settings
    assert limits.connection_cap(agency.id) == limits.DEFAULT_CONNECTION_CAP
    settings.connection_cap = 500
    db.session.commit()
    assert limits.connection_cap(agency.id) == limits.CONNECTION_CAP_BOUNDS[1]
    settings.connection_cap = 1
    db.session.commit()
    assert limits.connection_cap(agency.id) == 1


def test_a_daily_limit_the_queue_exceeds_is_shown_on_settings_and_troubleshooting(
        agency, admin_client):
    from webapp.troubleshoot import checks
    agency.mail_settings.rate_per_day = 3
    db.session.commit()
    queue(agency, 3)
    assert "daily-limit" not in admin_client.get("/mail-settings").get_data(as_text=True)
    assert checks.check_daily_limit(checks.make_context(agency)).status == checks.OK

    queue_email(agency.id, REGISTRATION_CONFIRMATION, "one-more@example.org",
                sample_context(REGISTRATION_CONFIRMATION), "registration:one-more")
    db.session.commit()

    page = admin_client.get("/mail-settings").get_data(as_text=True)
    notice = re.search(r'<p [^>]*id="daily-limit">([^<]*)</p>', page).group(1)
    # The limit (3 in 24 hours), the emails waiting (4), what the next 24 hours allow (3).
    assert sorted(re.findall(r"\d+", notice)) == ["24", "24", "3", "3", "4"]
    result = checks.check_daily_limit(checks.make_context(agency))
    assert result.status == checks.PROBLEM
    assert "3" in result.title and "4" in result.detail


def test_an_admin_sets_the_limits_within_safe_bounds_and_bad_input_is_named(admin_client, agency):
    from mailsettings_data import valid_form
    response = admin_client.post("/mail-settings", data=valid_form(
        connection_cap="2", rate_per_minute="20", rate_per_day="1500"))
    assert response.status_code == 302
    db.session.expire_all()
    assert limits.connection_cap(agency.id) == 2
    assert limits.rates(agency.id) == limits.Rates(20, 1500)

    page = admin_client.post("/mail-settings", data=valid_form(
        connection_cap="50", rate_per_minute="20", rate_per_day="1500")).get_data(as_text=True)
    message = re.search(r'id="connection_cap-message"[^>]*>(.*?)</', page, re.S)
    assert message and re.findall(r"\d+", message.group(1)) == ["1", "10"]
    db.session.expire_all()
    assert limits.connection_cap(agency.id) == 2, "nothing saved"

    # Emptied: the provider's published limits and the default cap.
    assert admin_client.post("/mail-settings", data=valid_form(
        connection_cap="", rate_per_minute="", rate_per_day="")).status_code == 302
    db.session.expire_all()
    assert limits.connection_cap(agency.id) == limits.DEFAULT_CONNECTION_CAP
    provider = preset_for_host(valid_form()["host"])
    assert limits.rates(agency.id) == limits.Rates(provider.per_minute, provider.per_day)
