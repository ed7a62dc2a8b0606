"""The agency chooses which booking events its own address hears of and the clients' default
language, on the mail-settings page (where the seed's admin finds "email the client when the
order changes"); the troubleshooting checks follow (S11, S12, S14, S15)."""
from datetime import timedelta

from api_fixtures import ORDER, outbox
from conftest import sign_in
from document_samples import attachment
from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.mailsettings.forms import BookingNotificationsForm
from webapp.mailsettings.service import history, settings_view
from webapp.models import EmailTemplate, MailSettings, RefusedDocument
from webapp.models.types import utcnow
from webapp.troubleshoot import checks

TOGGLES = ("notify_agency_booking_created", "notify_agency_booking_issued",
           "notify_agency_booking_cancelled", "notify_agency_booking_changed",
           "notify_agency_payment_received")


def stored(agency) -> MailSettings:
    db.session.expire_all()
    return db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()


def run(agency, check):
    db.session.expire_all()
    return check(checks.make_context(agency))


def test_the_settings_page_shows_every_notification_on_by_default(admin_client):
    page = admin_client.get("/mail-settings").get_data(as_text=True)
    assert "Уведомления о бронировании" in page and "Уведомлять адрес агентства о событиях:" in page
    for name in TOGGLES:
        assert f'id="{name}" name="{name}" type="checkbox" value="y"' in page, name
        assert page.count(f'checked id="{name}"') == 1, name
    assert '<option selected value="ru">Русский</option>' in page


def test_the_admin_switches_a_notification_off_and_the_engine_stops_sending_it(
        admin_client, agency, admin, engine):
    form = {name: "y" for name in TOGGLES if name != "notify_agency_booking_issued"}
    response = admin_client.post("/mail-settings/booking-notifications",
                                 data=form | {"client_language": "en"})

    assert response.status_code == 302 and response.location.endswith("#booking-notifications")
    settings = stored(agency)
    assert settings.notify_agency_booking_issued is False and settings.client_language == "en"
    assert settings.notify_agency_booking_created is True
    assert history(agency.id)[0].fields == ["client_language", "notify_agency_booking_issued"]
    assert history(agency.id)[0].user_id == admin.id
    page = admin_client.get("/mail-settings").get_data(as_text=True)
    assert 'checked id="notify_agency_booking_issued"' not in page

    engine.post("/orders", ORDER)
    engine.post(f"/orders/{ORDER['number']}/issue", {})
    assert [(row.kind, row.language) for row in outbox()] == [
        (kinds.BOOKING_CREATED, "en"), (kinds.AGENCY_BOOKING_CREATED, "ru"),
        (kinds.BOOKING_ISSUED, "en")]


def test_a_bad_language_saves_nothing_and_says_which_field(admin_client, agency):
    response = admin_client.post("/mail-settings/booking-notifications",
                                 data={"client_language": "de"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Ничего не сохранено" in page and "Язык писем клиенту" in page
    settings = stored(agency)
    assert settings.client_language == "ru" and settings.notify_agency_booking_created is True


def test_staff_who_are_not_admins_cannot_change_them(client, agency, make_user):
    sign_in(client, make_user(agency, "clerk@alpha.example", admin=False))
    response = client.post("/mail-settings/booking-notifications", data={"client_language": "en"})
    assert response.status_code == 403
    assert stored(agency).client_language == "ru"


# Troubleshooting

def test_a_missing_template_of_a_kind_the_events_use_is_named(agency, engine):
    assert run(agency, checks.check_templates).status == "ok"
    engine.post("/orders", ORDER)
    agency.mail_settings.client_language = "en"
    db.session.execute(db.delete(EmailTemplate).filter_by(
        agency_id=agency.id, kind=kinds.BOOKING_ISSUED, language="en"))
    db.session.execute(db.delete(EmailTemplate).filter_by(
        agency_id=agency.id, kind=kinds.AGENCY_BOOKING_CANCELLED, language="ru"))
    db.session.commit()

    result = run(agency, checks.check_templates)

    assert result.status == "problem"
    assert "Ваши билеты (клиенту) (en): отсутствует" in result.detail
    assert "Заказ аннулирован (агентству) (ru): отсутствует" in result.detail
    # Switched off, the agency notification needs no template.
    agency.mail_settings.notify_agency_booking_cancelled = False
    db.session.commit()
    assert "(агентству) (ru)" not in run(agency, checks.check_templates).detail


def test_no_agency_address_while_agency_notifications_are_on(agency, engine):
    agency.email = None
    db.session.commit()
    engine.post("/orders", ORDER)

    result = run(agency, checks.check_agency_address)
    assert result.status == "problem"
    assert "Уведомления агентству о бронированиях включены, но их некуда отправлять" in result.detail

    for name in TOGGLES:
        setattr(agency.mail_settings, name, False)
    db.session.commit()
    assert "Уведомления агентству" not in run(agency, checks.check_agency_address).detail


def test_documents_refused_in_the_last_30_days(agency, engine):
    assert run(agency, checks.check_refused_documents).status == "ok"
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{ORDER['number']}/issue",
                {"documents": [attachment("x.pdf", b"not a pdf")]})
    db.session.add(RefusedDocument(agency_id=agency.id, field="documents", reason="old",
                                   refused_at=utcnow() - timedelta(days=31)))
    db.session.commit()

    result = run(agency, checks.check_refused_documents)
    assert result.status == "problem"
    assert result.title == "Событий бронирования, отклонённых из-за документов за последние 30 дней: 1"


def test_copies_to_the_agency_address_say_what_arrives_twice(agency):
    agency.mail_settings.copies_email = "office@alpha.example"
    db.session.commit()
    result = run(agency, checks.check_copies)
    assert result.status == "problem"
    assert "в этот ящик приходят два письма: уведомление агентству и скрытая копия письма клиенту" \
        in result.detail

    for name in TOGGLES:
        setattr(agency.mail_settings, name, False)
    db.session.commit()
    result = run(agency, checks.check_copies)
    assert result.status == "ok" and "один раз" in result.detail


def test_the_templates_page_says_which_language_each_email_uses(admin_client, agency):
    agency.mail_settings.client_language = "en"
    db.session.commit()
    page = admin_client.get("/templates/").get_data(as_text=True)
    assert "на языке клиентов по умолчанию из настроек почты (Английский)" in page
    assert "уведомления самому агентству отправляются на языке агентства (Русский)" in page
    assert "Ваши билеты (клиенту)" in page and "Новое бронирование (агентству)" in page
    assert 'href="/mail-settings#booking-notifications"' in page


def test_an_agency_without_settings_gets_its_own_language_for_clients(app, agency):
    agency.locale = "en"
    db.session.delete(agency.mail_settings)
    db.session.commit()

    assert settings_view(agency).client_language == "en"
    db.session.expire_all()
    assert db.session.execute(db.select(MailSettings.client_language)).scalar_one() == "en"


def test_each_events_switch_is_on_the_form_and_in_the_settings(app, agency):
    """The events' table names the switches; the form and the settings follow it."""
    switches = [toggle for _client, _agency, toggle in kinds.BOOKING_EVENTS.values()]
    assert list(BookingNotificationsForm.TOGGLES) == switches == list(TOGGLES)
    view = settings_view(agency)
    assert all(getattr(view, name) is True for name in switches) and view.agency_notifications_on
