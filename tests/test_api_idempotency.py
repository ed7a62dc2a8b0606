"""The engine may resend any event: with an Idempotency-Key it gets the first answer again and
nothing happens twice; without one, each email still goes out once."""
from datetime import timedelta

from api_fixtures import ORDER, Engine, outbox
from webapp.api.service import issue_token, request_fingerprint
from webapp.extensions import db
from webapp.models import Client, IdempotencyRecord
from webapp.notification_kinds import ORDER_CHANGE, REGISTRATION_CONFIRMATION

ANNA = {"login": "anna", "email": "anna@example.org", "name": "Анна Петрова"}


def test_a_replayed_registration_gets_the_first_answer_and_one_email(engine):
    first = engine.post("/registrations", ANNA, key="reg-anna-1")
    replay = engine.post("/registrations", ANNA, key="reg-anna-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json == first.json
    assert db.session.execute(db.select(db.func.count(Client.id))).scalar() == 1
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1


def test_a_replayed_change_is_answered_as_the_first_time(engine):
    engine.post("/orders", ORDER, key="order-1")
    change = {"status": "issued", "change_summary": "Билеты выписаны"}
    first = engine.patch("/orders/291205", change, key="change-1")
    engine.patch("/orders/291205", {"status": "cancelled"}, key="change-2")

    replay = engine.patch("/orders/291205", change, key="change-1")

    assert replay.status_code == 200 and replay.json == first.json
    assert replay.json["status"] == "issued"  # the stored answer, not the order as it is now
    assert [row.context["status"] for row in outbox(ORDER_CHANGE)] == ["issued", "cancelled"]


def test_a_domain_refusal_is_replayed_too(engine):
    engine.post("/orders", ORDER)
    first = engine.post("/orders", ORDER, key="dup")
    again = engine.post("/orders", ORDER, key="dup")
    assert first.status_code == again.status_code == 409 and again.json == first.json


def test_a_key_reused_for_another_request_is_refused(engine):
    engine.post("/registrations", ANNA, key="k")
    other = engine.post("/registrations", ANNA | {"login": "boris"}, key="k")
    assert other.status_code == 422
    assert "different request" in other.json["errors"]["Idempotency-Key"]
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1


def test_an_invalid_request_does_not_use_up_its_key(engine):
    refused = engine.post("/registrations", ANNA | {"email": "anna@"}, key="k")
    fixed = engine.post("/registrations", ANNA, key="k")
    assert (refused.status_code, fixed.status_code) == (422, 201)


def test_a_key_held_by_a_running_request_answers_409_until_it_is_presumed_dead(engine, agency):
    body = b'{"login": "anna", "email": "anna@example.org", "name": "Anna"}'
    db.session.add(IdempotencyRecord(agency_id=agency.id, key="k", fingerprint=request_fingerprint(
        "POST", "/api/v1/registrations", body)))
    db.session.commit()

    def send():
        return engine.post("/registrations", data=body, content_type="application/json", key="k")

    assert send().status_code == 409

    record = db.session.execute(db.select(IdempotencyRecord)).scalar_one()
    record.created_at -= timedelta(minutes=5)
    db.session.commit()
    assert send().status_code == 201
    assert send().status_code == 201  # and from now on, the stored answer
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 1


def test_keys_belong_to_their_agency(engine, client, make_agency):
    other = Engine(client, issue_token(make_agency("beta").id))
    assert engine.post("/registrations", ANNA, key="same").status_code == 201
    assert other.post("/registrations", ANNA, key="same").status_code == 201
    assert len(outbox(REGISTRATION_CONFIRMATION)) == 2
