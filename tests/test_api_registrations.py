"""The booking engine registers clients; each gets one confirmation email with a working link."""
from datetime import timedelta
from urllib.parse import urlsplit

from api_fixtures import outbox
from webapp.bookings.service import client_for_token
from webapp.extensions import db
from webapp.models import Client
from webapp.models.types import utcnow
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


def test_a_batch_registers_each_client_and_answers_for_each_in_order(engine, agency):
    boris = {"login": "boris", "email": "boris@example.org", "name": "Борис"}
    assert engine.post("/registrations", ANNA).status_code == 201

    response = engine.post("/registrations/batch", {"registrations": [
        ANNA | {"email": "other@example.org"}, boris, boris | {"email": "twin@example.org"},
        {"login": "vera", "email": "vera@example.org", "name": "Вера"}]})

    assert response.status_code == 200
    codes = [result["code"] for result in response.json["results"]]
    assert codes == [409, 201, 409, 201]  # a live login, new, the same login again, new
    assert response.json["results"][0]["errors"] == {"login": "this login is already registered"}
    assert response.json["results"][2]["errors"] == {"login": "repeats the login of registrations[1]"}
    assert {result["login"] for result in response.json["results"] if result["code"] == 201} == \
        {"boris", "vera"}
    rows = outbox(REGISTRATION_CONFIRMATION)
    assert sorted(row.to_address for row in rows) == \
        ["anna@example.org", "boris@example.org", "vera@example.org"]
    for result in response.json["results"][1::2]:
        [row] = [row for row in rows if row.context["login"] == result["login"]]
        token = urlsplit(row.context["confirm_url"]).path.removeprefix("/confirm/")
        assert client_for_token(token).id == result["id"]


def test_a_bad_field_anywhere_in_a_batch_is_named_and_nothing_is_saved(engine):
    response = engine.post("/registrations/batch", {"registrations": [
        ANNA, {"login": "boris", "email": "not-an-address", "name": "Борис"}, {"login": "vera"}]})

    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "registrations[1].email", "registrations[2].email", "registrations[2].name"}
    assert db.session.execute(db.select(Client)).first() is None and outbox() == []


def test_a_batch_is_one_to_five_hundred_registrations(engine):
    for registrations in ([], [ANNA] * 501, "anna"):
        response = engine.post("/registrations/batch", {"registrations": registrations})
        assert response.status_code == 422
        assert "registrations" in response.json["errors"]
    assert engine.post("/registrations/batch", ANNA).json["errors"] == {
        "body": 'must be a JSON object with one field, "registrations"'}


def test_a_replayed_batch_registers_nobody_twice(engine):
    body = {"registrations": [ANNA]}
    first = engine.post("/registrations/batch", body, key="import-1")
    again = engine.post("/registrations/batch", body, key="import-1")
    assert first.json == again.json and first.json["results"][0]["code"] == 201
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1


def test_a_login_taken_by_another_request_meanwhile_is_answered_for_that_item(engine, agency,
                                                                             monkeypatch):
    from webapp.bookings import service
    real_insert, raced = service._insert, []

    def another_request_wins_first(rows, conflict):
        if not raced:  # between our check and our insert, another request registers "boris"
            raced.append(True)
            db.session.rollback()
            db.session.add(Client(agency_id=agency.id, login="boris", email="b@example.org",
                                  name="Борис", status="unconfirmed", registered_at=utcnow()))
            db.session.commit()
            raise conflict
        return real_insert(rows, conflict)

    monkeypatch.setattr(service, "_insert", another_request_wins_first)
    body = {"registrations": [ANNA, {"login": "boris", "email": "boris@example.org",
                                     "name": "Борис"}]}
    response = engine.post("/registrations/batch", body, key="import-2")

    assert [result["code"] for result in response.json["results"]] == [201, 409]
    assert engine.post("/registrations/batch", body, key="import-2").json == response.json
