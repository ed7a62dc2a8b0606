"""A complete, valid mail-settings submission for tests to vary one field at a time."""
from webapp.extensions import db
from webapp.models import MailSettingsChange

SECRET = "Pa55-w0rd-not-for-pages"


def valid_form(**changes) -> dict:
    data = {
        "host": "smtp.yandex.ru", "port": "465", "security": "tls",
        "login": "office@alpha.example", "password": "", "sender_address": "",
        "sender_name": "Альфа-Тур", "agency_email": "office@alpha.example", "copies_email": "",
        "payment_problems_email": "", "order_change_emails": "yes",
        "unconfirmed_expiry_minutes": "", "data_deadline_hours": "", "warn_from_minutes": "",
        "warn_to_minutes": "",
    }
    data.update(changes)
    return data


def change_count() -> int:
    return db.session.execute(db.select(db.func.count(MailSettingsChange.id))).scalar_one()
