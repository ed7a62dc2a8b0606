"""End to end, as a newcomer runs it: the booking engine posts every booking event through the API,
a real RQ worker sends, the development catcher catches; the test reads the caught messages
(not the database) for the whole table of S14, in Russian and in English."""
import pytest

from api_fixtures import ORDER
from conftest import free_port
from document_samples import PDF, attachment
from webapp.catcher.service import caught_ids_of, list_caught, start_catcher
from webapp.extensions import db

CLIENT, OFFICE, COPIES, CASHIER = ("anna@example.org", "office@alpha.example",
                                   "copies@alpha.example", "cashier@alpha.example")
TABLE = {
    "ru": [
        (f"{CLIENT}, {COPIES}", "Ваше бронирование № {n}", "Маршрут:"),
        (OFFICE, "Новое бронирование № {n}", "Клиент: Анна Петрова, anna@example.org"),
        (f"{CLIENT}, {COPIES}", "Изменения в заказе № {n}", "Новое время вылета"),
        (OFFICE, "Изменения в заказе № {n}", "Новое время вылета"),
        (f"{CLIENT}, {COPIES}", "Оплата заказа № {n} получена", "Номер платежа: PAY-1"),
        (OFFICE, "Оплата заказа № {n}", "Номер платежа: PAY-1"),
        (f"{CLIENT}, {COPIES}", "Ваши билеты по заказу № {n}", "Ваши документы во вложении"),
        (OFFICE, "Заказ № {n} выписан", "Клиенту отправлены документы: Билет {n}.pdf"),
        (f"{CLIENT}, {COPIES}", "Заказ № {n} аннулирован", "По просьбе клиента"),
        (OFFICE, "Заказ № {n} аннулирован", "По просьбе клиента"),
        (f"{CASHIER}, {COPIES}", "Проблема при оплате", "{n}. Оплачен аннулированный заказ."),
    ],
    "en": [
        (f"{CLIENT}, {COPIES}", "Your booking {n}", "Itinerary:"),
        (OFFICE, "Новое бронирование № {n}", "Клиент: Анна Петрова, anna@example.org"),
        (f"{CLIENT}, {COPIES}", "Your order {n} has changed", "Новое время вылета"),
        (OFFICE, "Изменения в заказе № {n}", "Новое время вылета"),
        (f"{CLIENT}, {COPIES}", "Payment received for order {n}", "Payment reference: PAY-1"),
        (OFFICE, "Оплата заказа № {n}", "Номер платежа: PAY-1"),
        (f"{CLIENT}, {COPIES}", "Your tickets for order {n}", "Your documents are attached"),
        (OFFICE, "Заказ № {n} выписан", "Клиенту отправлены документы: Билет {n}.pdf"),
        (f"{CLIENT}, {COPIES}", "Order {n} has been cancelled", "По просьбе клиента"),
        (OFFICE, "Заказ № {n} аннулирован", "По просьбе клиента"),
        (f"{CASHIER}, {COPIES}", "Проблема при оплате", "{n}. Оплачен аннулированный заказ."),
    ],
}


@pytest.fixture
def catcher(app_config, agency):
    port = free_port()
    controller = start_catcher(app_config["MAIL_CATCHER_DIR"], port=port)
    settings = agency.mail_settings
    settings.host, settings.port, settings.security = "127.0.0.1", port, "none"
    # The catcher asks for no login, as the demo's does not.
    settings.sender_address, settings.sender_name = "office@alpha.example", "Альфа-Тур"
    settings.copies_email, settings.payment_problems_email = COPIES, CASHIER
    db.session.commit()
    yield app_config["MAIL_CATCHER_DIR"]
    controller.stop()


def post_every_event(engine, number: str, language: str) -> None:
    calls = [
        ("POST", "/orders", ORDER | {"number": number, "language": language, "amount": "48200.00",
                                     "currency": "RUB", "itinerary": "SU 1402 SVO — AER"}),
        ("PATCH", f"/orders/{number}", {"change_summary": "Новое время вылета: 08:15"}),
        ("POST", f"/orders/{number}/payments", {"amount": "48200.00", "reference": "PAY-1"}),
        ("POST", f"/orders/{number}/issue", {"documents": [attachment(f"Билет {number}.pdf", PDF)]}),
        ("POST", f"/orders/{number}/cancellation", {"reason": "По просьбе клиента"}),
        ("POST", f"/orders/{number}/payment-problems", {"kind": "cancelled_paid"}),
    ]
    for method, path, body in calls:
        response = engine.send(method, path, body, key=f"{number}:{path}")
        assert response.status_code < 300, (path, response.json)
        # The same event again (the engine retrying after a timeout): nothing new is caught.
        assert engine.send(method, path, body, key=f"{number}:{path}").status_code < 300


@pytest.mark.parametrize("language, number", [("ru", "RU-1"), ("en", "EN-1")])
def test_every_booking_event_arrives_in_the_catcher(catcher, engine, run_worker, agency, language,
                                                   number):
    post_every_event(engine, number, language)
    run_worker()

    # The catcher's order within a second is its file names': compare as a set, each once.
    mail = list_caught(catcher, caught_ids_of(agency.id))  # what the agency's dev inbox lists
    caught = {(message.envelope_to, message.subject): message for message in mail}
    expected = [(to, subject.format(n=number), words.format(n=number))
                for to, subject, words in TABLE[language]]
    assert len(mail) == len(expected)
    assert set(caught) == {(to, subject) for to, subject, _ in expected}
    for to, subject, words in expected:
        message = caught[to, subject]
        assert words in message.text, subject
        assert message.message["From"].addresses[0].display_name == "Альфа-Тур"
        assert message.message["To"].addresses[0].addr_spec == to.split(",")[0]
        attached = [(part.get_filename(), part.get_content())
                    for part in message.message.iter_attachments()]
        if (to, subject) == expected[6][:2]:  # "your tickets"
            assert attached == [(f"Билет {number}.pdf", PDF)]  # byte for byte
        else:
            assert attached == [], subject
