"""What jobs and other pages get from the mail settings, and how stored passwords are encrypted."""
import dataclasses

import pytest
from cryptography.fernet import Fernet

from mailsettings_data import SECRET
from webapp import mail_secrets
from webapp.mailsettings import service
from webapp.extensions import db
from webapp.models import MailSettings


def configure(agency, **changes):
    values = dict(service.settings_view(agency).values(), host="smtp.yandex.ru", port=465,
                  security="tls", login="office@alpha.example", sender_name="Альфа-Тур")
    values.update(changes)
    return service.save_settings(agency, values, new_password=SECRET)


def test_jobs_get_the_decrypted_password_and_the_installation_settings(app, agency):
    app.config["MAIL_EHLO_NAME"] = "mail.console.example"
    configure(agency, sender_address="tours@alpha.example")
    settings = service.smtp_settings_for(agency.id)
    assert (settings.host, settings.port, settings.security) == ("smtp.yandex.ru", 465, "tls")
    assert (settings.login, settings.password) == ("office@alpha.example", SECRET)
    assert (settings.sender_address, settings.sender_name) == ("tours@alpha.example", "Альфа-Тур")
    assert settings.ehlo_name == "mail.console.example" and settings.allow_private is True
    assert SECRET not in repr(settings)


def test_an_agency_without_a_server_is_not_configured(agency):
    with pytest.raises(service.MailNotConfigured):
        service.smtp_settings_for(agency.id)


def test_the_view_for_pages_has_no_password(agency):
    configure(agency)
    view = service.settings_view(agency)
    assert view.password_set is True
    assert "password" not in {f.name for f in dataclasses.fields(view)}
    assert SECRET not in repr(view)


def test_the_stored_column_is_not_the_plaintext(agency):
    configure(agency)
    token = db.session.execute(db.select(MailSettings.password_encrypted)).scalar_one()
    assert SECRET not in token and SECRET.encode().hex() not in token
    assert mail_secrets.decrypt(token) == SECRET


def test_rotation_keeps_old_passwords_readable_and_lets_the_old_key_go(app, agency):
    old_key = app.config["MAIL_SECRET_KEYS"]
    configure(agency)
    new_key = Fernet.generate_key().decode()

    app.config["MAIL_SECRET_KEYS"] = f"{new_key},{old_key}"
    assert service.smtp_settings_for(agency.id).password == SECRET  # old tokens still open
    assert service.rotate_passwords() == (1, [])

    app.config["MAIL_SECRET_KEYS"] = new_key
    assert service.smtp_settings_for(agency.id).password == SECRET


def test_rotation_reports_a_password_no_key_opens(app, agency):
    configure(agency)
    app.config["MAIL_SECRET_KEYS"] = Fernet.generate_key().decode()
    assert service.rotate_passwords() == (0, [agency.slug])
    with pytest.raises(mail_secrets.MailSecretError):
        service.smtp_settings_for(agency.id)

