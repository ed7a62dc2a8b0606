"""Operators provision mail settings from scripts with the page's own validation."""
from cryptography.fernet import Fernet

from conftest import flask_cli
from mailsettings_data import SECRET
from webapp import mail_secrets
from webapp.extensions import db
from webapp.mailsettings import service
from webapp.models import MailSettings, MailSettingsChange


def stored(agency) -> MailSettings:
    db.session.expire_all()
    return db.session.execute(db.select(MailSettings).filter_by(agency_id=agency.id)).scalar_one()


def test_configure_saves_every_option_and_records_the_cli(app, agency, flask_env):
    flask_env["SMTP_PASSWORD"] = SECRET
    result = flask_cli(flask_env, "mail", "configure", "--agency", agency.slug,
                       "--host", "smtp.yandex.ru", "--port", "465", "--security", "tls",
                       "--login", "office@alpha.example", "--password-env", "SMTP_PASSWORD",
                       "--sender-name", "Альфа-Тур", "--agency-email", "Office@Alpha.Example",
                       "--copies-email", "copies@alpha.example", "--payment-problems-email",
                       "kassa@alpha.example", "--order-change-emails", "no",
                       "--unconfirmed-expiry-minutes", "60", "--data-deadline-hours", "24",
                       "--warn-from", "30", "--warn-to", "90")
    assert result.returncode == 0, result.stderr
    assert "changed host, port, security" in result.stdout
    assert SECRET not in result.stdout + result.stderr

    row = stored(agency)
    assert (row.host, row.port, row.security, row.order_change_emails) == ("smtp.yandex.ru", 465, "tls", False)
    assert (row.warn_from_minutes, row.warn_to_minutes, row.data_deadline_hours) == (30, 90, 24)
    assert row.agency.email == "Office@alpha.example"
    assert mail_secrets.decrypt(row.password_encrypted) == SECRET
    change = db.session.execute(db.select(MailSettingsChange)).scalar_one()
    assert (change.user_id, change.source) == (None, "cli")

    cleared = flask_cli(flask_env, "mail", "configure", "--agency", agency.slug, "--copies-email", "")
    assert cleared.returncode == 0, cleared.stderr
    assert stored(agency).copies_email == "" and stored(agency).port == 465


def test_configure_refuses_bad_input_with_the_pages_messages_and_saves_nothing(app, agency, flask_env):
    result = flask_cli(flask_env, "mail", "configure", "--agency", agency.slug, "--lang", "en",
                       "--host", "smtp.yandex.ru", "--port", "70000", "--security", "ssl",
                       "--copies-email", "not-an-address", "--sender-name", "A\nBcc: x@y.example",
                       "--warn-from", "90", "--warn-to", "30")
    assert result.returncode == 2
    for message in ("Port: enter a whole number from 1 to 65535.",
                    "Use TLS: choose one of:",
                    "Email address for copies of notifications: enter one email address",
                    "Sender name: must be one line",
                    "Time-limit warning: from, minutes before: must not be greater than \"to\" (30)."):
        assert message in result.stderr
    assert stored(agency).host == ""
    assert db.session.execute(db.select(MailSettingsChange)).first() is None


def test_rotate_keys_re_encrypts_under_the_new_key(app, agency, flask_env):
    values = dict(service.settings_view(agency).values(), host="smtp.yandex.ru", port=465)
    service.save_settings(agency, values, new_password=SECRET)
    new_key = Fernet.generate_key().decode()
    flask_env["MAIL_SECRET_KEYS"] = f"{new_key},{app.config['MAIL_SECRET_KEYS']}"

    result = flask_cli(flask_env, "mail", "rotate-keys")
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 1" in result.stdout
    app.config["MAIL_SECRET_KEYS"] = new_key
    assert mail_secrets.decrypt(stored(agency).password_encrypted) == SECRET
