"""The booking engine registers clients; each gets one confirmation email with a working link."""
from datetime import timedelta
from urllib.parse import urlsplit

from api_fixtures import outbox
from webapp.bookings.service import client_for_token
from webapp.extensions import db
from webapp.models import Client
from webapp.notification_kinds import REGISTRATION_CONFIRMATION

ANNA = {"login": "anna", "email": "anna@example.org", "name": "Анна Петрова"}


def test_registration_queues_a_confirmation_link_that_leads_back_to_the_client(engine, agency):
    agency.mail_settings.unconfirmed_expiry_minutes = 60
    db.session.commit()

    response = engine.post("/registrations", ANNA)

    assert response.status_code == 201
    assert response.json == {"id": response.json["id"], "login": "anna", "status": "unconfirmed"}
    [row] = outbox(REGISTRATION_CONFIRMATION)
    assert row.to_address == "anna@example.org" and row.language == "ru"
    assert row.context["client_name"] == "Анна Петрова" and row.context["login"] == "anna"
    assert row.context["expiry_minutes"] == 60
    link = urlsplit(row.context["confirm_url"])
    assert (link.scheme, link.netloc) == ("http", "localhost")
    assert link.path.startswith("/confirm/")
    client = client_for_token(link.path.removeprefix("/confirm/"))
    assert client.id == response.json["id"] and client.status == "unconfirmed"
    # The link stops working after the agency's expiry: so does the email, if still unsent.
    assert row.expires_at - client.registered_at == timedelta(minutes=60)


def test_the_link_uses_the_configured_public_address(engine, app):
    app.config["PUBLIC_URL"] = "https://mail.agency.example/"
    engine.post("/registrations", ANNA)
    [row] = outbox(REGISTRATION_CONFIRMATION)
    assert row.context["confirm_url"].startswith("https://mail.agency.example/confirm/")


def test_a_forged_or_foreign_token_finds_no_client(engine):
    engine.post("/registrations", ANNA)
    url = outbox(REGISTRATION_CONFIRMATION)[0].context["confirm_url"]
    token = url.rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    # A different signature, changed at its start: the last base64 character of a signature
    # carries padding bits, so changing only the end can leave the decoded bytes the same.
    forged = "A" + signature[1:] if signature[0] != "A" else "B" + signature[1:]
    assert client_for_token(f"{payload}.{forged}") is None
    assert client_for_token("not-a-token") is None


def test_a_live_login_cannot_be_registered_twice(engine):
    assert engine.post("/registrations", ANNA).status_code == 201

    again = engine.post("/registrations", ANNA | {"email": "other@example.org"})

    assert again.status_code == 409
    assert "login" in again.json["errors"]
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1


def test_an_expired_login_is_free_again(engine):
    engine.post("/registrations", ANNA)
    db.session.execute(db.update(Client).values(status="expired"))
    db.session.commit()

    again = engine.post("/registrations", ANNA)

    assert again.status_code == 201
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 2


def test_no_expiry_set_means_the_link_never_expires(engine):
    engine.post("/registrations", ANNA)
    [row] = outbox(REGISTRATION_CONFIRMATION)
    assert row.context["expiry_minutes"] is None and row.expires_at is None
