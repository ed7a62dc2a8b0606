"""S4: the confirmation link works once, until the agency's expiry; then "Авторизация не удалась",
nobody signed in, and the login is free to register again."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from api_fixtures import outbox
from webapp.bookings.service import Conflict, register_client
from webapp.extensions import db
from webapp.models import Client
from webapp.notification_kinds import REGISTRATION_CONFIRMATION
from webapp.schedule.service import expire_registrations, tick

FAILED_RU = "Авторизация не удалась"


def register(agency, login="anna"):
    client = register_client(agency, login, f"{login}@example.org", "Анна Петрова",
                             site_url="http://localhost")
    return client, confirmation_path(client)


def confirmation_path(client):
    [row] = [row for row in outbox(REGISTRATION_CONFIRMATION)
             if row.dedupe_key == f"registration:{client.id}"]
    return urlsplit(row.context["confirm_url"]).path


def expiry(agency, value):
    agency.mail_settings.unconfirmed_expiry_minutes = value
    db.session.commit()


def reload(client):
    db.session.expire_all()
    return db.session.get(Client, client.id)


def test_the_link_confirms_once(client, agency):
    anna, path = register(agency)

    page = client.get(path)
    assert page.status_code == 200 and "Подтвердить" in page.text
    assert reload(anna).status == "unconfirmed"  # opening the link (a mail scanner) is not enough

    confirmed = client.post(path)
    assert confirmed.status_code == 200 and "Регистрация подтверждена" in confirmed.text
    assert reload(anna).status == "confirmed" and reload(anna).confirmed_at is not None

    again = client.post(path)
    assert again.status_code == 410 and FAILED_RU in again.text
    assert client.get(path).status_code == 410


def test_after_the_expiry_the_old_link_fails_and_the_login_registers_again(client, agency):
    expiry(agency, 60)
    anna, path = register(agency)

    assert expire_registrations(anna.registered_at + timedelta(minutes=59)) == 0
    assert expire_registrations(anna.registered_at + timedelta(minutes=61)) == 1
    assert reload(anna).status == "expired"

    for response in (client.get(path), client.post(path)):
        assert response.status_code == 410 and FAILED_RU in response.text
        with client.session_transaction() as session:
            assert "_user_id" not in session
    assert reload(anna).status == "expired"

    second, second_path = register(agency)
    assert second.id != anna.id
    assert client.post(second_path).status_code == 200
    assert expire_registrations(anna.registered_at + timedelta(days=1)) == 0


def test_a_link_past_its_expiry_fails_even_before_the_job_runs(client, agency):
    expiry(agency, 60)
    anna, path = register(agency)
    anna.expires_at = anna.registered_at - timedelta(seconds=1)
    db.session.commit()

    assert FAILED_RU in client.get(path).text
    assert client.post(path).status_code == 410
    assert reload(anna).status == "unconfirmed"


def test_a_live_login_stays_taken_until_it_expires(agency):
    expiry(agency, 60)
    register(agency)
    with pytest.raises(Conflict):
        register(agency)


@pytest.mark.parametrize("value", [None, 0])
def test_an_empty_or_zero_expiry_never_expires(client, agency, value):
    expiry(agency, value)
    anna, path = register(agency)

    assert expire_registrations(anna.registered_at + timedelta(days=3650)) == 0
    assert client.post(path).status_code == 200


def test_an_expiry_set_later_applies_to_waiting_registrations_at_the_next_tick(agency):
    anna, _path = register(agency)
    expiry(agency, 60)

    assert tick(anna.registered_at + timedelta(minutes=61))["expire_registrations"] == 1
    assert reload(anna).status == "expired"


def test_a_forged_link_fails_in_the_visitors_language(client, agency):
    _anna, path = register(agency)

    payload, signature = path.rsplit(".", 1)
    # Changed at the signature's start: its last base64 character partly carries padding bits.
    forged_path = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    forged = client.get(forged_path, headers={"Accept-Language": "en"})

    assert forged.status_code == 400 and "Authorization failed" in forged.text


def test_the_pages_speak_the_agencys_language(client, agency):
    agency.locale = "en"
    db.session.commit()
    _anna, path = register(agency)

    assert "Confirm your registration" in client.get(path, headers={"Accept-Language": "ru"}).text
    client.post(path)
    assert "Authorization failed" in client.get(path, headers={"Accept-Language": "ru"}).text


@pytest.fixture
def demo_site(app_config):
    """The registration form is a demo page: it exists only with DEV_TOOLS on."""
    app_config["DEV_TOOLS"] = True


def test_the_registration_form_exists_only_in_the_demo(client, agency):
    assert client.get(f"/register/{agency.slug}").status_code == 404


def test_the_demo_registration_form_registers_and_emails_a_link(demo_site, client, agency):
    page = client.get(f"/register/{agency.slug}")
    assert page.status_code == 200 and 'name="login"' in page.text

    done = client.post(f"/register/{agency.slug}",
                       data={"login": "boris", "email": "boris@example.org", "name": "Борис"})

    assert done.status_code == 200 and "boris@example.org" in done.text
    [row] = outbox(REGISTRATION_CONFIRMATION)
    assert row.to_address == "boris@example.org" and "/confirm/" in row.context["confirm_url"]


def test_the_demo_form_names_the_field_at_fault(demo_site, client, agency):
    register(agency, "boris")

    taken = client.post(f"/register/{agency.slug}",
                        data={"login": "boris", "email": "b@example.org", "name": "Борис"})
    bad_email = client.post(f"/register/{agency.slug}",
                            data={"login": "vera", "email": "not-an-email", "name": "Вера"})

    assert taken.status_code == 200 and "логин уже зарегистрирован" in taken.text
    assert bad_email.status_code == 200 and "адрес" in bad_email.text
    control = client.post(f"/register/{agency.slug}",
                          data={"login": "ve\x00ra", "email": "v@example.org", "name": "Вера"})
    assert control.status_code == 200 and "управляющих символов" in control.text
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1
    assert client.get("/register/no-such-agency").status_code == 404


def test_an_expired_login_is_free_before_the_next_tick(agency):
    agency.mail_settings.unconfirmed_expiry_minutes = 1
    db.session.commit()
    first = register_client(agency, "gleb", "gleb@example.org", "Глеб", site_url="https://x.example")
    first.expires_at = first.registered_at - timedelta(seconds=1)  # expired, no tick ran yet
    db.session.commit()

    again = register_client(agency, "gleb", "gleb2@example.org", "Глеб", site_url="https://x.example")

    db.session.expire_all()
    assert db.session.get(Client, first.id).status == "expired"
    assert again.status == "unconfirmed"
