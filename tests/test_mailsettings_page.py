"""An agency admin edits the mail settings page without JavaScript: plain POST, errors re-rendered."""
import re
from html.parser import HTMLParser

from sqlalchemy import event

from conftest import sign_in
from mailsettings_data import SECRET, change_count, valid_form
from webapp import mail_secrets
from webapp.extensions import db
from webapp.mailsettings.forms import FIELD_NAMES
from webapp.models import MailSettings, MailSettingsChange


def stored(agency) -> MailSettings:
    db.session.expire_all()
    return db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()


def test_page_shows_every_field_under_its_name_and_no_password(admin_client):
    page = admin_client.get("/mail-settings").get_data(as_text=True)
    for name in FIELD_NAMES:
        assert f'id="{name}"' in page, name
    assert "SMTP сервер" in page and "Использовать TLS" in page
    assert "Пароль не задан." in page
    assert 'id="preset-picker" hidden' in page


class Controls(HTMLParser):
    """The form controls a browser would show: attributes of each input and select by id, and
    the value of each select's selected option."""

    def __init__(self, page: str):
        super().__init__()
        self.by_id, self.selected, self._select = {}, {}, None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select") and "id" in attrs:
            self.by_id[attrs["id"]] = attrs
            self._select = attrs["id"] if tag == "select" else self._select
        elif tag == "option" and self._select and "selected" in attrs:
            self.selected[self._select] = attrs["value"]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def test_saved_values_come_back_in_their_fields_as_typed_each_wired_to_its_check(admin_client):
    name = 'Тур "Альфа" <&> \'Бета\''
    form = valid_form(sender_name=name, port="587", security="starttls", order_change_emails="no")
    assert admin_client.post("/mail-settings", data=form).status_code == 302

    controls = Controls(admin_client.get("/mail-settings").get_data(as_text=True))
    assert controls.by_id["sender_name"]["value"] == name
    assert controls.by_id["port"]["value"] == "587" and controls.by_id["port"]["type"] == "number"
    assert controls.selected == {"security": "starttls", "order_change_emails": "no",
                                 "client_language": "ru"}  # the booking-notifications form
    assert controls.by_id["password"]["value"] == ""
    for field in FIELD_NAMES:
        wiring = controls.by_id[field]
        assert wiring["hx-post"] == f"/mail-settings/validate/{field}", field
        assert wiring["hx-target"] == f"#{field}-message" and wiring["hx-trigger"] == "change"
        assert field in wiring["hx-params"].split(","), field


def test_a_field_with_an_error_is_marked_invalid_and_described_by_its_message(admin_client):
    page = admin_client.post("/mail-settings", data=valid_form(port="abc")).get_data(as_text=True)

    controls = Controls(page)
    assert controls.by_id["port"]["aria-invalid"] == "true"
    assert controls.by_id["port"]["aria-describedby"] == "port-message"
    assert "aria-invalid" not in controls.by_id["host"]
    assert controls.by_id["host"]["aria-describedby"] == "host-message"
    message = re.search(r'<div id="port-message"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert 'class="field-error">Порт: ' in message


def test_saving_without_javascript_stores_normalized_values_and_reports_changes(admin_client, agency):
    form = valid_form(host="SMTP.Yandex.RU", copies_email="Copies@Alpha.Example",
                      payment_problems_email="Касса@Пример.РФ", order_change_emails="no",
                      unconfirmed_expiry_minutes="90", data_deadline_hours="48",
                      warn_from_minutes="30", warn_to_minutes="120")
    response = admin_client.post("/mail-settings", data=form)
    assert response.status_code == 302

    page = admin_client.get(response.location).get_data(as_text=True)
    assert "Сохранено. Изменено: SMTP сервер, Порт, Использовать TLS" in page
    row = stored(agency)
    assert (row.host, row.port, row.security) == ("smtp.yandex.ru", 465, "tls")
    assert row.copies_email == "Copies@alpha.example"
    assert row.payment_problems_email == "Касса@пример.рф"
    assert row.order_change_emails is False
    assert (row.unconfirmed_expiry_minutes, row.data_deadline_hours) == (90, 48)
    assert (row.warn_from_minutes, row.warn_to_minutes) == (30, 120)


def test_history_names_who_and_which_fields(admin_client, admin, agency):
    admin_client.post("/mail-settings", data=valid_form())
    admin_client.post("/mail-settings", data=valid_form(sender_name="Бета-Тур", password=SECRET))
    changes = db.session.execute(db.select(MailSettingsChange).order_by(MailSettingsChange.id)).scalars().all()
    assert [c.user_id for c in changes] == [admin.id, admin.id]
    assert changes[1].fields == ["sender_name", "password"]
    page = admin_client.get("/mail-settings").get_data(as_text=True)
    history = page[page.index('id="history"'):]
    assert admin.email in history and "Имя отправителя, SMTP пароль" in history
    assert SECRET not in page


def test_resubmitting_the_same_values_changes_nothing(admin_client):
    admin_client.post("/mail-settings", data=valid_form())
    page = admin_client.post("/mail-settings", data=valid_form(), follow_redirects=True)
    assert "Ничего не изменилось." in page.get_data(as_text=True)
    assert change_count() == 1


BAD_INPUTS = [
    ("host", "", "SMTP сервер: укажите имя сервера"),
    ("host", "smtp://smtp.yandex.ru:465", "SMTP сервер: введите только имя сервера"),
    ("host", "smtp..yandex.ru", "SMTP сервер: это не имя сервера"),
    ("host", "smtp.yandex.ru\r\nX-Injected: 1", "SMTP сервер: должно быть одной строкой"),
    ("port", "", "Порт: укажите порт"),
    ("port", "0", "Порт: введите целое число от 1 до 65535"),
    ("port", "65536", "Порт: введите целое число от 1 до 65535"),
    ("port", "4 6 5", "Порт: введите целое число, только цифры"),
    ("security", "ssl", "Использовать TLS: выберите одно из значений"),
    ("login", "office\n@alpha.example", "SMTP логин: должно быть одной строкой"),
    ("password", "x\r\nRCPT TO:<a@b>", "SMTP пароль: должно быть одной строкой"),
    ("sender_address", "not-an-address", "Адрес отправителя: введите один адрес"),
    ("sender_address", "a@alpha.example\r\nBcc: victim@example.com", "Адрес отправителя: должно быть одной строкой"),
    ("sender_name", "Тур\r\nBcc: victim@example.com", "Имя отправителя: должно быть одной строкой"),
    ("sender_name", "Тур\x00", "Имя отправителя: должно быть одной строкой"),
    ("sender_name", "Т" * 201, "Имя отправителя: не больше 200 символов"),
    ("agency_email", "office@", "Адрес электронной почты агентства: введите один адрес"),
    ("copies_email", "a@b.example, c@d.example", "Адрес электронной почты для копий уведомлений: введите один адрес"),
    ("payment_problems_email", "kassa@localhost", "E-mail адрес для нотификаций о проблемах с оплатой: введите один адрес"),
    ("order_change_emails", "maybe", "Отправлять письмо клиенту об изменении заказа: выберите одно из значений"),
    ("unconfirmed_expiry_minutes", "-5", "Таймлимит для неподтверждённых писем, минут: введите целое число от 0 до 43200"),
    ("unconfirmed_expiry_minutes", "1.5", "Таймлимит для неподтверждённых писем, минут: введите целое число, только цифры"),
    ("data_deadline_hours", "721", "часов: введите целое число от 0 до 720"),
    ("warn_to_minutes", "99999999999999999999", "Предупреждать о таймлимите: до, минут: введите целое число от 0 до 43200"),
]


def test_each_bad_input_gets_its_message_and_saves_nothing(admin_client, agency):
    # One signed-in client for every case: signing in hashes a password, which is the slow part.
    for name, value, message in BAD_INPUTS:
        changes = {name: value}
        if name != "password":
            changes["password"] = SECRET  # even a valid new password is not stored on any error
        response = admin_client.post("/mail-settings", data=valid_form(**changes))
        body = response.get_data(as_text=True)
        assert response.status_code == 200, (name, value)
        assert message in body, (name, value)
        assert f'href="#{name}"' in body, (name, value)  # the summary links to the field
        assert SECRET not in body and "RCPT TO" not in body, (name, value)
        row = stored(agency)
        assert row.host == "" and row.password_encrypted is None and change_count() == 0, (name, value)


def test_time_limit_warning_is_a_window_or_up_to(admin_client, agency):
    for warn_from, warn_to, message in [
        ("60", "30", "Предупреждать о таймлимите: от, минут: не может быть больше, чем «до» (30)"),
        ("60", "", "Предупреждать о таймлимите: от, минут: заполните и поле «до»"),
    ]:
        body = admin_client.post("/mail-settings", data=valid_form(
            warn_from_minutes=warn_from, warn_to_minutes=warn_to)).get_data(as_text=True)
        assert message in body
        assert stored(agency).host == ""

    assert admin_client.post("/mail-settings", data=valid_form(warn_to_minutes="45")).status_code == 302
    assert (stored(agency).warn_from_minutes, stored(agency).warn_to_minutes) == (None, 45)


def test_zero_expiry_means_off(admin_client, agency):
    admin_client.post("/mail-settings", data=valid_form(unconfirmed_expiry_minutes="0"))
    assert stored(agency).unconfirmed_expiry_minutes is None


def test_copies_to_the_agency_address_warns_but_saves(admin_client, agency):
    response = admin_client.post("/mail-settings", data=valid_form(copies_email="OFFICE@alpha.example"))
    assert response.status_code == 302
    page = admin_client.get("/mail-settings").get_data(as_text=True)
    assert "о каждом событии бронирования туда будут приходить два письма" in page
    assert stored(agency).copies_email == "OFFICE@alpha.example"


def test_mail_ru_sender_address_warns(admin_client):
    admin_client.post("/mail-settings", data=valid_form(host="smtp.mail.ru", sender_address="tours@alpha.example"))
    page = admin_client.get("/mail-settings").get_data(as_text=True)
    assert "Адрес отправителя: Mail.ru не принимает другой адрес отправителя" in page


def test_messages_in_english_name_the_field(admin_client):
    body = admin_client.post("/mail-settings", data=valid_form(port="70000"),
                             headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Port: enter a whole number from 1 to 65535." in body


def test_password_is_write_only_kept_when_empty_and_removable(admin_client, agency):
    response = admin_client.post("/mail-settings", data=valid_form(password=SECRET), follow_redirects=True)
    body = response.get_data(as_text=True)
    assert SECRET not in body and "Пароль сохранён" in body
    token = stored(agency).password_encrypted
    assert token and SECRET not in token and mail_secrets.decrypt(token) == SECRET
    assert not re.search(r'name="password"[^>]*value="[^"]', body)

    admin_client.post("/mail-settings", data=valid_form(sender_name="Другое имя"))
    assert mail_secrets.decrypt(stored(agency).password_encrypted) == SECRET

    both = admin_client.post("/mail-settings", data=valid_form(password="new-one", remove_password="y"))
    assert "либо введите новый пароль, либо удалите сохранённый" in both.get_data(as_text=True)

    page = admin_client.post("/mail-settings", data=valid_form(sender_name="Другое имя", remove_password="y"),
                             follow_redirects=True)
    assert "Изменено: SMTP пароль." in page.get_data(as_text=True)
    assert stored(agency).password_encrypted is None


def test_staff_who_are_not_admins_get_403(client, agency, make_user):
    sign_in(client, make_user(agency, email="clerk@alpha.example", admin=False))
    assert client.get("/mail-settings").status_code == 403
    assert client.post("/mail-settings", data=valid_form()).status_code == 403
    assert client.post("/mail-settings/validate/host", data={"host": "x"}).status_code == 403


def test_signed_out_visitor_is_sent_to_sign_in(client, app):
    assert "/sign-in" in client.get("/mail-settings").location


def test_another_agencys_settings_are_unreachable(client, make_agency, make_user):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    alpha_admin, beta_admin = make_user(alpha), make_user(beta)
    sign_in(client, alpha_admin)
    client.post("/mail-settings", data=valid_form(host="smtp.alpha-only.example", agency_id=str(beta.id)))
    client.post("/sign-out")

    sign_in(client, beta_admin)
    page = client.get("/mail-settings").get_data(as_text=True)
    assert "smtp.alpha-only.example" not in page and alpha_admin.email not in page
    assert stored(beta).host == "" and stored(alpha).host == "smtp.alpha-only.example"


def test_a_value_of_line_breaks_alone_is_refused_not_saved(admin_client, agency):
    for name in ("sender_name", "login", "sender_address", "copies_email", "password"):
        response = admin_client.post("/mail-settings", data=valid_form(**{name: "\r\n"}))
        assert response.status_code == 200, name
        assert "переводы строк" in response.get_data(as_text=True), name
    assert change_count() == 0


def test_the_history_names_its_authors_without_a_query_each(client, make_user, agency):
    authors = [make_user(agency, email=f"admin{number}@alpha.example") for number in range(4)]
    for number, author in enumerate(authors):
        sign_in(client, author)
        client.post("/mail-settings", data=valid_form(sender_name=f"Альфа {number}"))
    statements = []
    record = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = client.get("/mail-settings").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    history = page[page.index('id="history"'):]
    assert all(author.email in history for author in authors)
    assert sum("FROM staff_user" in statement for statement in statements) <= 2
