"""Events from the booking engine become emails at the SMTP server: once each, with copies."""
import email
import re
from email import policy

import pytest

from api_fixtures import ORDER
from outbox_helpers import point_agency_at
from webapp.bookings.service import client_for_token
from webapp.extensions import db


@pytest.fixture
def server(agency, smtp_server):
    running = smtp_server()
    point_agency_at(agency, running, copies_email="copies@alpha.example")
    return running


def _messages(server):
    return [(r.rcpt_tos, email.message_from_bytes(r.content, policy=policy.default))
            for r in server.handler.received]


def test_a_registration_sends_one_confirmation_with_a_working_link(engine, server, run_worker):
    body = {"login": "anna", "email": "anna@example.org", "name": "Анна Петрова"}
    assert engine.post("/registrations", body).status_code == 201
    assert engine.post("/registrations", body).status_code == 409  # replay of the same login
    run_worker()

    ((rcpts, message),) = _messages(server)
    assert rcpts == ["anna@example.org", "copies@alpha.example"]
    assert message["To"] == "anna@example.org" and "copies" not in str(message)
    text = message.get_body(preferencelist=("plain",)).get_content()
    token = re.search(r"/confirm/([\w.-]+)", text).group(1)
    assert client_for_token(token).login == "anna"


def test_an_order_change_emails_the_client_once(agency, engine, server, run_worker):
    agency.mail_settings.notify_agency_booking_changed = False
    db.session.commit()
    engine.post("/orders", ORDER)
    run_worker()
    server.handler.received.clear()  # the booking's own emails (test_booking_events_end_to_end.py)
    change = {"status": "issued", "change_summary": "Заказ выписан"}
    assert engine.patch("/orders/291205", change, key="change-1").status_code == 200
    assert engine.patch("/orders/291205", change, key="change-1").status_code == 200  # replay
    run_worker()

    ((rcpts, message),) = _messages(server)
    assert rcpts[0] == "anna@example.org"
    assert "291205" in message["Subject"] + message.get_body(preferencelist=("plain",)).get_content()


def test_order_change_emails_stop_when_the_agency_turns_them_off(agency, engine, server, run_worker):
    agency.mail_settings.order_change_emails = False
    agency.mail_settings.notify_agency_booking_changed = False
    db.session.commit()
    engine.post("/orders", ORDER)
    run_worker()
    server.handler.received.clear()
    engine.patch("/orders/291205", {"status": "issued", "change_summary": "Заказ выписан"})
    run_worker()
    assert server.handler.received == []


def test_a_payment_problem_sends_the_fixed_text_to_the_payment_address(agency, engine, server, run_worker):
    agency.mail_settings.payment_problems_email = "cashier@alpha.example"
    db.session.commit()
    engine.post("/orders", ORDER | {"status": "issued"})
    run_worker()
    server.handler.received.clear()
    assert engine.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"}).status_code == 202
    run_worker()

    ((rcpts, message),) = _messages(server)
    assert rcpts[0] == "cashier@alpha.example"
    assert message["Subject"] == "Проблема при оплате"
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == \
        "291205. Заказ выписан, но оплата не подтверждена."
