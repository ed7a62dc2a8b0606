"""The stored SMTP password goes only to the server it was entered for: a new server, port or
weaker security needs it typed again, and nothing saved is lost meanwhile."""
import pytest

from conftest import flask_cli
from mailsettings_data import SECRET, change_count, valid_form
from webapp import mail_secrets
from webapp.extensions import db
from webapp.mailsettings import service
from webapp.models import MailSettings

STORED = {"host": "smtp.yandex.ru", "port": "465", "security": "tls"}
MESSAGE = "SMTP пароль: сервер, порт или шифрование новые: введите пароль ещё раз"


def stored(agency) -> MailSettings:
    db.session.expire_all()
    return db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()


@pytest.fixture
def with_password(admin_client, agency):
    response = admin_client.post("/mail-settings", data=valid_form(**STORED, password=SECRET))
    assert response.status_code == 302
    return admin_client


@pytest.mark.parametrize("changes", [
    {"host": "smtp.attacker.example"},
    {"host": "smtp.yandex.ru.attacker.example"},
    {"port": "2525"},
    {"security": "none"},  # the same server, the password in clear
    {"security": "starttls"},  # ... or strippable
    {"host": "smtp.attacker.example", "port": "587", "security": "starttls"},
])
def test_a_new_server_without_the_password_is_refused_and_nothing_is_lost(with_password, agency,
                                                                         changes):
    before = change_count()
    response = with_password.post("/mail-settings",
                                  data=valid_form(**{**STORED, **changes}, sender_name="Новое имя"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert MESSAGE in body and 'href="#password"' in body
    row = stored(agency)
    assert (row.host, row.port, row.security, row.sender_name) == ("smtp.yandex.ru", 465, "tls", "Альфа-Тур")
    assert mail_secrets.decrypt(row.password_encrypted) == SECRET
    assert change_count() == before


def test_typing_the_password_again_moves_it_to_the_new_server(with_password, agency):
    response = with_password.post("/mail-settings", data=valid_form(
        host="smtp.mail.ru", port="465", security="tls", password="another-secret"))
    assert response.status_code == 302
    row = stored(agency)
    assert row.host == "smtp.mail.ru" and mail_secrets.decrypt(row.password_encrypted) == "another-secret"


def test_removing_the_stored_password_allows_a_new_server(with_password, agency):
    response = with_password.post("/mail-settings", data=valid_form(
        host="relay.alpha.example", port="25", security="none", remove_password="y"))
    assert response.status_code == 302
    row = stored(agency)
    assert row.host == "relay.alpha.example" and row.password_encrypted is None


@pytest.mark.parametrize("changes", [
    {"sender_name": "Другое имя"},  # the same server: the password stays
    {"host": "SMTP.Yandex.RU."},  # the same name, spelled differently
])
def test_the_same_server_keeps_the_stored_password(with_password, agency, changes):
    response = with_password.post("/mail-settings", data=valid_form(**{**STORED, **changes}))
    assert response.status_code == 302
    assert mail_secrets.decrypt(stored(agency).password_encrypted) == SECRET


def test_stronger_security_on_the_same_server_keeps_the_password(admin_client, agency):
    admin_client.post("/mail-settings", data=valid_form(host="smtp.yandex.ru", port="587",
                                                        security="none", password=SECRET))
    response = admin_client.post("/mail-settings", data=valid_form(host="smtp.yandex.ru", port="587",
                                                                   security="starttls"))
    assert response.status_code == 302
    assert stored(agency).security == "starttls"
    assert mail_secrets.decrypt(stored(agency).password_encrypted) == SECRET


def test_the_rule_other_paths_use(app, agency):
    view = service.settings_view(agency)
    assert service.stored_password_usable(view, "smtp.attacker.example", 465, "tls")  # none stored
    values = dict(view.values(), host="smtp.yandex.ru", port=465, security="starttls")
    service.save_settings(agency, values, new_password=SECRET)
    saved = service.settings_view(agency)
    usable = service.stored_password_usable
    assert usable(saved, "smtp.yandex.ru", 465, "starttls") and usable(saved, "Smtp.Yandex.Ru", 465, "tls")
    assert not usable(saved, "smtp.attacker.example", 465, "starttls")
    assert not usable(saved, "smtp.yandex.ru", 587, "starttls")
    assert not usable(saved, "smtp.yandex.ru", 465, "none")
    assert not usable(saved, "", 465, "starttls")

    # And the service refuses, saving nothing, whoever calls it without the password.
    with pytest.raises(service.PasswordNeeded):
        service.save_settings(agency, dict(values, host="smtp.attacker.example"))
    assert stored(agency).host == "smtp.yandex.ru"


def test_the_cli_asks_for_the_password_too(app, agency, flask_env):
    values = dict(service.settings_view(agency).values(), host="smtp.yandex.ru", port=465)
    service.save_settings(agency, values, new_password=SECRET)
    result = flask_cli(flask_env, "mail", "configure", "--agency", agency.slug, "--lang", "en",
                       "--host", "smtp.attacker.example")
    assert result.returncode == 2
    assert "SMTP password: the server, port or encryption is new: type the password again" in result.stderr
    assert stored(agency).host == "smtp.yandex.ru"
