"""Inline validation: htmx posts one field and gets back only that field's messages."""
import re

from conftest import PASSWORD
from mailsettings_data import SECRET, valid_form
from webapp.extensions import db
from webapp.mailsettings.forms import FIELD_NAMES, related_fields
from webapp.models import MailSettings

HTMX = {"HX-Request": "true"}


def check(client, name, **values):
    response = client.post(f"/mail-settings/validate/{name}", data=values, headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_response_is_just_the_fields_message_with_the_same_rules(admin_client):
    body = check(admin_client, "copies_email", copies_email="not-an-address")
    assert body.lstrip().startswith('<div id="copies_email-message"')
    assert "<html" not in body and "<form" not in body and "<input" not in body and "<label" not in body
    assert "Адрес электронной почты для копий уведомлений: введите один адрес" in body

    fine = check(admin_client, "copies_email", copies_email="copies@alpha.example")
    assert "field-error" not in fine
    assert "field-error" in check(admin_client, "port", port="70000")
    assert "field-error" not in check(admin_client, "port", port="587")


def test_cross_field_messages_come_along_out_of_band(admin_client):
    body = check(admin_client, "warn_to_minutes", warn_from_minutes="60", warn_to_minutes="30")
    assert re.search(r'<div id="warn_from_minutes-message"[^>]*hx-swap-oob="true"', body)
    assert "не может быть больше, чем «до» (30)" in body

    body = check(admin_client, "agency_email", agency_email="office@alpha.example",
                 copies_email="Office@alpha.example")
    assert 'id="copies_email-message"' in body and "два письма" in body

    body = check(admin_client, "host", host="smtp.mail.ru", sender_address="tours@alpha.example")
    assert "пароль для внешних приложений" in body  # the provider's note under the host
    assert "Mail.ru не принимает другой адрес отправителя" in body


def test_inline_check_never_saves_nor_echoes_the_password(admin_client, agency):
    body = check(admin_client, "password", password=SECRET + "\n")
    assert "SMTP пароль: должно быть одной строкой" in body and SECRET not in body
    check(admin_client, "host", host="smtp.gmail.com")
    row = db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()
    assert row.host == "" and row.password_encrypted is None


def test_every_field_answers_with_its_own_message_and_those_that_read_it(admin_client):
    for name in FIELD_NAMES:
        refresh, _needed = related_fields(name)
        body = check(admin_client, name, **{name: "\n"})
        shown = re.findall(r'<div id="([a-z_]+)-message"', body)
        assert shown == refresh, name


def test_unknown_field_is_not_found(admin_client):
    assert admin_client.post("/mail-settings/validate/password_encrypted", headers=HTMX).status_code == 404


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_posts_without_a_csrf_token_are_refused(app_config, request):
    app_config["WTF_CSRF_ENABLED"] = True
    agency = request.getfixturevalue("make_agency")("alpha")
    admin = request.getfixturevalue("make_user")(agency)
    client = request.getfixturevalue("client")
    token = _token(client.get("/sign-in").get_data(as_text=True))
    client.post("/sign-in", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})

    assert client.post("/mail-settings", data=valid_form()).status_code == 400
    assert client.post("/mail-settings/validate/host", data={"host": "x"}, headers=HTMX).status_code == 400
    row = db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()
    assert row.host == ""

    page = client.get("/mail-settings").get_data(as_text=True)
    assert client.post("/mail-settings", data=valid_form(csrf_token=_token(page))).status_code == 302
    headers = dict(HTMX, **{"X-CSRFToken": _token(page)})
    assert client.post("/mail-settings/validate/host", data={"host": "x"}, headers=headers).status_code == 200
