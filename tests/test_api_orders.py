"""Orders from the booking engine: stored (the booking's own emails: test_api_booking_events.py),
changes emailed to the client (S7), payment problems to the agency (S8), each email once however
often the engine repeats itself."""
from datetime import datetime, timezone

import pytest

from api_fixtures import ORDER, outbox
from webapp.api.openapi import document
from webapp.bookings import service as bookings
from webapp.extensions import db
from webapp.models import Order
from webapp.outbox.service import queue_email
from webapp.notification_kinds import (AGENCY_BOOKING_CREATED, BOOKING_CREATED, ORDER_CHANGE,
                                       PAYMENT_PROBLEM)


def stored_order() -> Order:
    db.session.expire_all()
    return db.session.execute(db.select(Order)).scalar_one()


def test_a_new_order_is_stored_and_announced(engine):
    response = engine.post("/orders", ORDER)

    assert response.status_code == 201
    assert response.json["number"] == "291205"
    assert set(response.json) == set(document()["components"]["schemas"]["Order"]["properties"])
    assert response.json["payment_time_limit"] == "2026-11-27T18:00:00+03:00"
    order = stored_order()
    assert order.payment_time_limit == datetime(2026, 11, 27, 15, tzinfo=timezone.utc)
    assert order.status == "booked" and order.paid is False and order.data_deadline is None
    assert [row.kind for row in outbox()] == [BOOKING_CREATED, AGENCY_BOOKING_CREATED]


def test_an_existing_number_is_a_conflict(engine):
    engine.post("/orders", ORDER)
    again = engine.post("/orders", ORDER | {"client_name": "Someone else"})
    assert again.status_code == 409 and "number" in again.json["errors"]
    assert stored_order().client_name == "Анна Петрова"


def test_a_change_emails_the_client_once_however_often_it_is_replayed(engine):
    engine.post("/orders", ORDER)
    change = {"status": "issued", "paid": True, "change_summary": "Билеты выписаны"}

    first = engine.patch("/orders/291205", change)
    replay = engine.patch("/orders/291205", change)

    assert first.status_code == replay.status_code == 200
    assert first.json["status"] == "issued" and first.json["paid"] is True
    [row] = outbox(ORDER_CHANGE)
    assert row.to_address == "anna@example.org"
    assert row.context == {"order_number": "291205", "client_name": "Анна Петрова",
                           "status": "issued", "change_summary": "Билеты выписаны",
                           # In the offset the engine gave, for people in the agency's language.
                           "payment_time_limit": "27.11.2026, 18:00 (UTC+03:00)"}


def test_two_real_changes_send_two_emails_even_when_one_undoes_the_other(engine):
    engine.post("/orders", ORDER)
    engine.patch("/orders/291205", {"status": "issued"})
    engine.patch("/orders/291205", {"status": "booked"})
    engine.patch("/orders/291205", {"status": "issued"})
    assert [row.context["status"] for row in outbox(ORDER_CHANGE)] == ["issued", "booked", "issued"]


def test_a_summary_alone_is_a_change(engine):
    engine.post("/orders", ORDER)
    engine.patch("/orders/291205", {"change_summary": "Изменено время вылета"})
    engine.patch("/orders/291205", {"change_summary": "Изменено время вылета"})
    engine.patch("/orders/291205", {"change_summary": "Изменён номер рейса"})
    assert [row.context["change_summary"] for row in outbox(ORDER_CHANGE)] == [
        "Изменено время вылета", "Изменён номер рейса"]


def test_no_email_when_the_agency_does_not_want_change_emails(engine, agency):
    agency.mail_settings.order_change_emails = False
    db.session.commit()
    engine.post("/orders", ORDER)

    response = engine.patch("/orders/291205", {"status": "cancelled"})

    assert response.status_code == 200 and stored_order().status == "cancelled"
    assert outbox(ORDER_CHANGE) == []


def test_a_new_time_limit_is_shown_in_the_offset_it_came_in(engine, agency):
    agency.mail_settings.client_language = "en"
    db.session.commit()
    engine.post("/orders", ORDER)
    engine.patch("/orders/291205", {"payment_time_limit": "2026-11-28T09:30:00Z"})
    [row] = outbox(ORDER_CHANGE)
    assert row.language == "en"
    assert row.context["payment_time_limit"] == "11/28/26, 9:30\u202fAM (UTC+00:00)"


def test_changing_an_unknown_order_is_not_found(engine):
    response = engine.patch("/orders/404404", {"status": "issued"})
    assert response.status_code == 404 and "number" in response.json["errors"]


def test_a_payment_problem_alerts_the_agency_once(engine, agency):
    agency.mail_settings.payment_problems_email = "money@alpha.example"
    db.session.commit()
    engine.post("/orders", ORDER)

    first = engine.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"})
    engine.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"})
    engine.post("/orders/291205/payment-problems", {"kind": "cancelled_paid"})

    assert first.status_code == 202
    assert first.json == {"order_number": "291205", "kind": "issued_unpaid", "order_known": True}
    rows = outbox(PAYMENT_PROBLEM)
    assert [(row.to_address, row.context) for row in rows] == [
        ("money@alpha.example", {"order_number": "291205", "problem": "issued_unpaid"}),
        ("money@alpha.example", {"order_number": "291205", "problem": "cancelled_paid"})]


def test_a_payment_problem_without_an_address_is_still_recorded(engine):
    engine.post("/orders", ORDER)
    response = engine.post("/orders/291205/payment-problems", {"kind": "cancelled_paid"})
    assert response.status_code == 202
    # The sender marks it skipped, "no recipient": the email log then says why nobody heard (S11).
    [row] = outbox(PAYMENT_PROBLEM)
    assert row.to_address == ""


def test_a_payment_problem_of_an_unknown_order_is_still_sent(engine, agency):
    """An alert of an order older than the console must not be lost: the text needs only the number."""
    agency.mail_settings.payment_problems_email = "money@alpha.example"
    db.session.commit()

    response = engine.post("/orders/404404/payment-problems", {"kind": "issued_unpaid"})
    engine.post("/orders/404404/payment-problems", {"kind": "issued_unpaid"})  # a replay

    assert response.status_code == 202
    assert response.json == {"order_number": "404404", "kind": "issued_unpaid", "order_known": False}
    [row] = outbox(PAYMENT_PROBLEM)
    assert (row.to_address, row.context) == (
        "money@alpha.example", {"order_number": "404404", "problem": "issued_unpaid"})


def test_a_payment_problem_replayed_after_its_order_is_created_is_not_sent_again(engine, agency):
    agency.mail_settings.payment_problems_email = "money@alpha.example"
    db.session.commit()
    engine.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"})  # before the booking
    engine.post("/orders", ORDER)
    replay = engine.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"})

    assert replay.status_code == 202 and replay.json["order_known"] is True
    assert len(outbox(PAYMENT_PROBLEM)) == 1


def test_a_payment_problem_queued_under_the_old_key_is_not_sent_again(engine, agency):
    """Rows queued before the key was the number's keyed a known order by its id."""
    engine.post("/orders", ORDER)
    order = db.session.execute(db.select(Order)).scalar_one()
    queue_email(agency.id, PAYMENT_PROBLEM, "", {"order_number": "291205", "problem": "issued_unpaid"},
                f"payment_problem:{order.id}:issued_unpaid", language="ru")
    db.session.commit()

    engine.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"})
    engine.post("/orders/291205/payment-problems", {"kind": "cancelled_paid"})

    assert [row.context["problem"] for row in outbox(PAYMENT_PROBLEM)] == [
        "issued_unpaid", "cancelled_paid"]


def test_a_payment_problem_of_a_malformed_order_number_is_refused(engine):
    response = engine.post("/orders/a%20b/payment-problems", {"kind": "issued_unpaid"})
    assert response.status_code == 422 and "number" in response.json["errors"]
    long = engine.post(f"/orders/{'1' * 41}/payment-problems", {"kind": "issued_unpaid"})
    assert long.json == {"errors": {"number": "must be at most 40 characters"}}
    assert outbox() == []


def test_the_service_refuses_a_malformed_order_number_itself(app, agency):
    """Any caller, not only the API route: the number is written into the alert and keys it."""
    with pytest.raises(bookings.Invalid) as refused:
        bookings.report_payment_problem(agency, "291205\r\nBcc: x@evil.example", "issued_unpaid")
    assert refused.value.field == "number"
    assert outbox() == []
