"""The committed migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import flask_cli
from webapp.extensions import db


def test_upgrade_on_an_empty_database_matches_the_models(app, flask_env):
    db.drop_all()
    result = flask_cli(flask_env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_an_agency_made_before_booking_notifications_keeps_its_language_and_gets_their_templates(
        app, flask_env):
    db.drop_all()
    assert flask_cli(flask_env, "db", "upgrade", "5d2c0e7a9b31").returncode == 0
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO agency (id, slug, name, locale, created_at) "
            "VALUES (7, 'old', 'Old', 'en', '2026-01-01 00:00:00')")
        connection.exec_driver_sql(
            "INSERT INTO mail_settings (agency_id, host, security, login, sender_address, "
            "sender_name, copies_email, payment_problems_email, order_change_emails, updated_at) "
            "VALUES (7, '', 'starttls', '', '', '', '', '', true, '2026-01-01 00:00:00')")

    result = flask_cli(flask_env, "db", "upgrade")

    assert result.returncode == 0, result.stderr
    with db.engine.connect() as connection:
        templates = connection.exec_driver_sql(
            "SELECT kind, language FROM email_template WHERE agency_id = 7").all()
        settings = connection.exec_driver_sql(
            "SELECT client_language, notify_agency_booking_created FROM mail_settings").one()
    assert len(templates) == 9 * 2 and ("agency_booking_issued", "en") in templates
    assert tuple(settings) == ("en", True)
