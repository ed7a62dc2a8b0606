"""Booking events become emails at a real SMTP server (S14, S15): the client's with its documents
byte for byte, the agency address's own, copies as a hidden recipient of the client's only."""
import email
import email.utils
from email import policy
from email.header import decode_header, make_header

import pytest

from api_fixtures import ORDER
from document_samples import JPEG, PDF, PNG, attachment
from outbox_helpers import point_agency_at
from webapp.extensions import db

NUMBER = ORDER["number"]
CLIENT, OFFICE, COPIES = "anna@example.org", "office@alpha.example", "copies@alpha.example"


@pytest.fixture
def server(agency, smtp_server):
    running = smtp_server(data_size_limit=32 * 1024 * 1024)
    point_agency_at(agency, running, copies_email=COPIES)
    return running


def caught(server) -> list[tuple[list[str], email.message.EmailMessage]]:
    return [(received.rcpt_tos, email.message_from_bytes(received.content, policy=policy.default))
            for received in server.handler.received]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_issuing_with_documents_sends_them_byte_for_byte_to_the_client(engine, server, run_worker):
    engine.post("/orders", ORDER | {"language": "en"})
    run_worker()
    server.handler.received.clear()

    response = engine.post(f"/orders/{NUMBER}/issue", {"documents": [
        attachment("Маршрутная квитанция № 291205.pdf", PDF),
        attachment("voucher.png", PNG, "image/png"), attachment("invoice.jpg", JPEG, "image/jpeg")]})
    assert response.status_code == 200
    run_worker()

    (client_rcpts, client_message), (office_rcpts, office_message) = caught(server)
    assert client_rcpts == [CLIENT, COPIES]  # the copy is a hidden recipient (S9)
    assert COPIES not in client_message.as_string()
    assert client_message["From"].addresses[0].display_name == "Альфа-Тур"
    assert client_message["Subject"] == "Your tickets for order 291205"
    assert "Your documents are attached" in text_of(client_message)
    attached = [(part.get_filename(), part.get_content_type(), part.get_content())
                for part in client_message.iter_attachments()]
    assert attached == [("Маршрутная квитанция № 291205.pdf", "application/pdf", PDF),
                        ("voucher.png", "image/png", PNG), ("invoice.jpg", "image/jpeg", JPEG)]
    # RFC 2231 for the Cyrillic name, as mail clients read it.
    assert "filename*" in client_message.as_string()

    assert office_rcpts == [OFFICE]  # the agency's own notification is not copied
    assert office_message["Subject"] == "Заказ № 291205 выписан"
    assert "Маршрутная квитанция № 291205.pdf" in text_of(office_message)
    assert list(office_message.iter_attachments()) == []


LONG_NAME = "Маршрутная квитанция электронного билета № 291205 Москва — Сочи, Анна Петрова.pdf"


def test_a_long_cyrillic_name_reaches_clients_that_read_either_parameter(engine, server, run_worker):
    """RFC 2231 continuations (filename*0*=) in Content-Disposition for clients that read them,
    and RFC 2047 words in Content-Type's name for those that do not (older Outlook: ATT00001)."""
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [
        attachment(LONG_NAME, PDF), attachment('ticket "A".pdf', PDF)]})
    run_worker()

    [raw] = [received.content for received in server.handler.received
             if b"multipart/mixed" in received.content]
    assert b"filename*0*=utf-8''" in raw and b'name="=?utf-8?b?' in raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    # Read as a client that knows only one of the two would.
    long_part, quoted_part = email.message_from_bytes(raw, policy=policy.compat32).get_payload()[1:]
    assert str(make_header(decode_header(long_part.get_param("name")))) == LONG_NAME
    assert email.utils.collapse_rfc2231_value(long_part.get_param(
        "filename", header="content-disposition")) == LONG_NAME
    assert quoted_part.get_param("name") == 'ticket "A".pdf'
    assert quoted_part.get_filename() == 'ticket "A".pdf'
    assert [part.get_content() for part in email.message_from_bytes(
        raw, policy=policy.default).iter_attachments()] == [PDF, PDF]


def test_each_event_sends_the_emails_of_the_table(agency, engine, server, run_worker):
    agency.mail_settings.payment_problems_email = "cashier@alpha.example"
    db.session.commit()
    engine.post("/orders", ORDER | {"amount": "48200.00", "currency": "RUB",
                                    "itinerary": "SU 1402, 12.12.2026 07:40 SVO — AER"})
    engine.patch(f"/orders/{NUMBER}", {"change_summary": "Новое время вылета: 08:15"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "48200.00", "currency": "RUB"})
    engine.post(f"/orders/{NUMBER}/issue", {})
    engine.post(f"/orders/{NUMBER}/cancellation", {"reason": "По просьбе клиента"})
    engine.post(f"/orders/{NUMBER}/payment-problems", {"kind": "cancelled_paid"})
    run_worker()

    subjects = [(rcpts, message["Subject"]) for rcpts, message in caught(server)]
    assert subjects == [
        ([CLIENT, COPIES], "Ваше бронирование № 291205"),
        ([OFFICE], "Новое бронирование № 291205"),
        ([CLIENT, COPIES], "Изменения в заказе № 291205"),
        ([OFFICE], "Изменения в заказе № 291205"),
        ([CLIENT, COPIES], "Оплата заказа № 291205 получена"),
        ([OFFICE], "Оплата заказа № 291205"),
        ([CLIENT, COPIES], "Ваши билеты по заказу № 291205"),
        ([OFFICE], "Заказ № 291205 выписан"),
        ([CLIENT, COPIES], "Заказ № 291205 аннулирован"),
        ([OFFICE], "Заказ № 291205 аннулирован"),
        (["cashier@alpha.example", COPIES], "Проблема при оплате"),
    ]
    messages = [message for _, message in caught(server)]
    confirmation, new_booking = text_of(messages[0]), text_of(messages[1])
    assert "SU 1402" in confirmation and "27.11.2026, 18:00 (UTC+03:00)" in confirmation
    assert "48\xa0200,00\xa0₽" in confirmation
    assert "Анна Петрова, anna@example.org" in new_booking and "48\xa0200,00\xa0₽" in new_booking
    assert "По просьбе клиента" in text_of(messages[8])
    assert all(message["From"].addresses[0].display_name == "Альфа-Тур" for message in messages)


def test_nothing_reaches_the_agency_address_for_events_switched_off(agency, engine, server, run_worker):
    settings = agency.mail_settings
    settings.notify_agency_booking_created = settings.notify_agency_booking_issued = False
    settings.copies_email = ""
    db.session.commit()
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{NUMBER}/issue", {})
    engine.post(f"/orders/{NUMBER}/cancellation", {})
    run_worker()

    assert [(rcpts, message["Subject"]) for rcpts, message in caught(server)] == [
        ([CLIENT], "Ваше бронирование № 291205"),
        ([CLIENT], "Ваши билеты по заказу № 291205"),
        ([CLIENT], "Заказ № 291205 аннулирован"),
        ([OFFICE], "Заказ № 291205 аннулирован")]

