"""Booking events from the engine (S14, S15): who gets which email, in which language, with which
documents; what the agency switched off; documents refused whole; replays send nothing new."""
from datetime import timedelta

import pytest

from api_fixtures import ORDER, outbox
from document_samples import JPEG, PDF, PNG, attachment
from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.models import Order, OutboxDocument, RefusedDocument
from webapp.models.types import utcnow
from webapp.schedule.service import tick

NUMBER = ORDER["number"]


def documents() -> list[OutboxDocument]:
    db.session.expire_all()
    return list(db.session.execute(db.select(OutboxDocument).order_by(OutboxDocument.id)).scalars())


def sent_to(rows) -> list[tuple[str, str, str]]:
    return [(row.kind, row.to_address, row.language) for row in rows]


def test_each_event_tells_the_client_and_the_agency_address(engine, agency):
    assert engine.post("/orders", ORDER | {"amount": "48200.00", "currency": "RUB",
                                           "itinerary": "SU 1402 SVO-AER"}).status_code == 201
    assert engine.patch(f"/orders/{NUMBER}", {"change_summary": "Новое время вылета"}).status_code == 200
    assert engine.post(f"/orders/{NUMBER}/payments", {"amount": "48200.00", "currency": "RUB",
                                                      "reference": "PAY-1"}).status_code == 200
    assert engine.post(f"/orders/{NUMBER}/issue", {}).status_code == 200
    assert engine.post(f"/orders/{NUMBER}/cancellation", {"reason": "По просьбе клиента"}).status_code == 200

    client, office = "anna@example.org", "office@alpha.example"
    assert sent_to(outbox()) == [
        (kinds.BOOKING_CREATED, client, "ru"), (kinds.AGENCY_BOOKING_CREATED, office, "ru"),
        (kinds.ORDER_CHANGE, client, "ru"), (kinds.AGENCY_BOOKING_CHANGED, office, "ru"),
        (kinds.PAYMENT_RECEIVED, client, "ru"), (kinds.AGENCY_PAYMENT_RECEIVED, office, "ru"),
        (kinds.BOOKING_ISSUED, client, "ru"), (kinds.AGENCY_BOOKING_ISSUED, office, "ru"),
        (kinds.BOOKING_CANCELLED, client, "ru"), (kinds.AGENCY_BOOKING_CANCELLED, office, "ru")]
    created = outbox(kinds.AGENCY_BOOKING_CREATED)[0].context
    assert created["amount"] == "48\xa0200,00\xa0₽" and created["client_email"] == client
    assert created["payment_time_limit"] == "27.11.2026, 18:00 (UTC+03:00)"
    assert outbox(kinds.BOOKING_CANCELLED)[0].context["reason"] == "По просьбе клиента"
    order = db.session.execute(db.select(Order)).scalar_one()
    assert (order.status, order.paid) == ("cancelled", True)


def test_the_client_hears_in_the_event_language_and_later_events_keep_it(engine, agency):
    agency.locale = "ru"
    db.session.commit()
    engine.post("/orders", ORDER | {"language": "en"})
    engine.post(f"/orders/{NUMBER}/issue", {})
    engine.post(f"/orders/{NUMBER}/cancellation", {"language": "ru"})

    assert [(row.kind, row.language) for row in outbox() if row.kind not in kinds.AGENCY_KINDS] == [
        (kinds.BOOKING_CREATED, "en"), (kinds.BOOKING_ISSUED, "en"), (kinds.BOOKING_CANCELLED, "ru")]
    # The agency's own notifications stay in the agency's language.
    assert {row.language for row in outbox() if row.kind in kinds.AGENCY_KINDS} == {"ru"}


def test_without_a_language_the_client_gets_the_agency_default(engine, agency):
    agency.mail_settings.client_language = "en"
    db.session.commit()
    engine.post("/orders", ORDER)
    [row] = outbox(kinds.BOOKING_CREATED)
    assert row.language == "en"
    assert row.context["payment_time_limit"] == "11/27/26, 6:00\u202fPM (UTC+03:00)"


def test_a_new_language_alone_is_no_news_for_the_client(engine, agency):
    engine.post("/orders", ORDER | {"language": "ru"})
    before = outbox()

    response = engine.patch(f"/orders/{NUMBER}", {"language": "en"})

    assert response.status_code == 200 and response.json["language"] == "en"
    assert outbox() == before
    # The next email is written in it; a new itinerary is news.
    engine.patch(f"/orders/{NUMBER}", {"itinerary": "SU 1402 SVO-AER 07:40"})
    [change] = outbox(kinds.ORDER_CHANGE)
    assert change.language == "en"


@pytest.mark.parametrize("event, toggle, agency_kind", [
    ("created", "notify_agency_booking_created", kinds.AGENCY_BOOKING_CREATED),
    ("changed", "notify_agency_booking_changed", kinds.AGENCY_BOOKING_CHANGED),
    ("paid", "notify_agency_payment_received", kinds.AGENCY_PAYMENT_RECEIVED),
    ("issued", "notify_agency_booking_issued", kinds.AGENCY_BOOKING_ISSUED),
    ("cancelled", "notify_agency_booking_cancelled", kinds.AGENCY_BOOKING_CANCELLED),
])
def test_a_notification_the_agency_switched_off_is_not_sent(engine, agency, event, toggle, agency_kind):
    setattr(agency.mail_settings, toggle, False)
    db.session.commit()
    engine.post("/orders", ORDER)
    engine.patch(f"/orders/{NUMBER}", {"change_summary": "Новое время"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.00"})
    engine.post(f"/orders/{NUMBER}/issue", {})
    engine.post(f"/orders/{NUMBER}/cancellation", {})

    sent = {row.kind for row in outbox()}
    assert agency_kind not in sent
    assert kinds.AGENCY_KINDS - {agency_kind} <= sent  # the others still go
    assert {kinds.BOOKING_CREATED, kinds.BOOKING_ISSUED, kinds.BOOKING_CANCELLED,
            kinds.PAYMENT_RECEIVED, kinds.ORDER_CHANGE} <= sent  # the client's never depend on it


def test_documents_are_stored_with_the_client_email_only(engine):
    response = engine.post("/orders", ORDER)
    assert response.status_code == 201
    issued = engine.post(f"/orders/{NUMBER}/issue", {"documents": [
        attachment("Маршрутная квитанция.pdf", PDF), attachment("voucher.png", PNG, "image/png"),
        attachment("invoice.JPEG", JPEG, "image/jpeg")]})

    assert issued.status_code == 200 and issued.json["status"] == "issued"
    [client_email] = outbox(kinds.BOOKING_ISSUED)
    stored = documents()
    assert [(d.outbox_email_id, d.filename, d.content_type, d.size, d.content) for d in stored] == [
        (client_email.id, "Маршрутная квитанция.pdf", "application/pdf", len(PDF), PDF),
        (client_email.id, "voucher.png", "image/png", len(PNG), PNG),
        (client_email.id, "invoice.JPEG", "image/jpeg", len(JPEG), JPEG)]
    assert client_email.context["documents"] == "Маршрутная квитанция.pdf, voucher.png, invoice.JPEG"


def test_replaying_an_event_with_its_key_sends_and_stores_nothing_new(engine):
    engine.post("/orders", ORDER, key="create-1")
    body = {"documents": [attachment("ticket.pdf", PDF)]}
    first = engine.post(f"/orders/{NUMBER}/issue", body, key="issue-1")
    again = engine.post(f"/orders/{NUMBER}/issue", body, key="issue-1")
    replayed_create = engine.post("/orders", ORDER, key="create-1")
    # Without a key the same event is harmless too: the same documents make the same email.
    without_key = engine.post(f"/orders/{NUMBER}/issue", body)

    assert first.status_code == again.status_code == without_key.status_code == 200
    assert again.json == first.json and replayed_create.status_code == 201
    assert [row.kind for row in outbox()] == [
        kinds.BOOKING_CREATED, kinds.AGENCY_BOOKING_CREATED, kinds.BOOKING_ISSUED,
        kinds.AGENCY_BOOKING_ISSUED]
    assert len(documents()) == 1


def test_issuing_again_with_other_documents_sends_them(engine):
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [attachment("ticket.pdf", PDF)]})
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [attachment("exchanged.pdf", PDF + b"1")]})
    assert len(outbox(kinds.BOOKING_ISSUED)) == 2
    assert [d.filename for d in documents()] == ["ticket.pdf", "exchanged.pdf"]


def test_documents_that_differ_only_in_where_a_name_ends_are_other_documents(engine):
    engine.post("/orders", ORDER)
    # Joined as name + NUL + content one after another, both lists were the same bytes.
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [
        attachment("a.pdf", PDF + b"b.pdf\0" + PDF)]})
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [
        attachment("a.pdf", PDF), attachment("b.pdf", PDF)]})
    assert len(outbox(kinds.BOOKING_ISSUED)) == 2


def test_a_late_issue_after_the_cancellation_is_refused(engine):
    engine.post("/orders", ORDER, key="create-1")
    engine.post(f"/orders/{NUMBER}/issue", {}, key="issue-1")
    engine.post(f"/orders/{NUMBER}/cancellation", {}, key="cancel-1")
    before = outbox()

    # The engine's retry of the issue, under a new key, arrives after the cancellation.
    late = engine.post(f"/orders/{NUMBER}/issue", {"documents": [attachment("late.pdf", PDF)]},
                       key="issue-2")

    assert late.status_code == 409
    assert "cancelled" in late.json["errors"]["status"]
    db.session.expire_all()
    order = db.session.execute(db.select(Order)).scalar_one()
    assert (order.status, order.warn_due_at) == ("cancelled", None)
    assert outbox() == before and documents() == []


def test_a_second_payment_needs_its_own_reference(engine):
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.00", "reference": "A"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.00", "reference": "A"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.00", "reference": "B"})
    assert [row.context["reference"] for row in outbox(kinds.PAYMENT_RECEIVED)] == ["A", "B"]


def test_a_payment_without_a_reference_is_one_payment_however_its_amount_is_written(engine):
    engine.post("/orders", ORDER | {"amount": "100.00", "currency": "RUB"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.00"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.0", "currency": "RUB"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "100.00", "currency": "EUR"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "10", "currency": "EUR"})
    assert [row.context["paid_amount"] for row in outbox(kinds.PAYMENT_RECEIVED)] == [
        "100,00\xa0₽", "100,00\xa0€", "10,00\xa0€"]


@pytest.mark.parametrize("documents_field, field, words", [
    ([attachment(f"{n}.pdf", PDF) for n in range(6)], "documents", "at most 5"),
    ([attachment("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024))], "documents", "10 MB"),
    ([attachment("a.pdf", b"%PDF-" + b"0" * (6 * 1024 * 1024)),
      attachment("b.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024))], "documents", "10 MB"),
    ([attachment("run.exe", b"MZ\x90\x00" + b"0" * 100, "application/pdf")],
     "documents[0].content", "not a PDF, PNG or JPEG"),
    ([attachment("photo.pdf", PNG, "application/pdf")], "documents[0].content_type",
     "image/png, not application/pdf"),
    ([attachment("page.html", b"<html>", "text/html")], "documents[0].content_type", "must be one of"),
    ([attachment("../../etc/ticket.pdf", PDF)], "documents[0].filename", "without a path"),
    ([attachment("C:\\tickets\\ticket.pdf", PDF)], "documents[0].filename", "without a path"),
    ([attachment("ticket.pdf\r\nBcc: x@evil.example", PDF)], "documents[0].filename", "line breaks"),
    ([attachment("..", PDF)], "documents[0].filename", "not . or .."),
    ([attachment("invoice.html", PDF)], "documents[0].filename", "must end in .pdf"),
    ([attachment("ticket", PDF)], "documents[0].filename", "must end in .pdf"),
    ([attachment("ok.pdf", PDF), attachment("voucher.pdf", PNG, "image/png")],
     "documents[1].filename", "must end in .png"),
    ([attachment("photo.png", JPEG, "image/jpeg")], "documents[0].filename",
     "must end in .jpg or .jpeg, as its content is image/jpeg"),
    ([{"filename": "t.pdf", "content_type": "application/pdf", "content": "%%%"}],
     "documents[0].content", "not valid base64"),
    ([{"filename": "t.pdf", "content_type": "application/pdf", "url": "http://169.254.169.254/"}],
     "documents[0].url", "unknown field"),
    ([attachment("ok.pdf", PDF), {"filename": "t.pdf", "content_type": "application/pdf"}],
     "documents[1].content", "required"),
    ({"filename": "t.pdf"}, "documents", "must be a list"),
])
def test_documents_over_the_limits_are_refused_and_nothing_is_stored(
        engine, agency, documents_field, field, words):
    engine.post("/orders", ORDER)
    before = outbox()

    response = engine.post(f"/orders/{NUMBER}/issue", {"documents": documents_field})
    created = engine.post("/orders", ORDER | {"number": "291206", "documents": documents_field})

    assert response.status_code == created.status_code == 422
    assert words in response.json["errors"][field]
    assert outbox() == before and documents() == []
    db.session.expire_all()
    assert db.session.execute(db.select(Order.status).filter_by(number=NUMBER)).scalar_one() == "booked"
    assert db.session.execute(db.select(Order).filter_by(number="291206")).scalar_one_or_none() is None
    # Noted for the troubleshooting page, without the documents.
    refused = db.session.execute(db.select(RefusedDocument)).scalars().all()
    assert [(row.agency_id, row.field) for row in refused] == [(agency.id, field)] * 2


def test_a_refused_event_retried_under_its_key_is_counted_once(engine, agency):
    engine.post("/orders", ORDER)
    body = {"documents": [attachment("page.html", b"<html>", "text/html")]}
    for _ in range(3):  # the engine retries what it sees as failed
        assert engine.post(f"/orders/{NUMBER}/issue", body, key="issue-1").status_code == 422
    engine.post(f"/orders/{NUMBER}/issue", body, key="issue-2")  # another request
    engine.post(f"/orders/{NUMBER}/issue", body)  # without a key: no way to tell, each counts
    engine.post(f"/orders/{NUMBER}/issue", body)

    db.session.expire_all()
    assert db.session.execute(db.select(db.func.count(RefusedDocument.id))).scalar_one() == 4


def test_notes_of_refused_documents_go_after_30_days(engine, agency):
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [attachment("a.html", b"<a>", "text/html")]})
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [attachment("b.html", b"<b>", "text/html")]})
    [old, recent] = db.session.execute(db.select(RefusedDocument).order_by(RefusedDocument.id)).scalars()
    now = utcnow()
    old.refused_at, recent.refused_at = now - timedelta(days=31), now - timedelta(days=29)
    db.session.commit()

    assert tick(now)["purge_documents"] == 1
    db.session.expire_all()
    assert db.session.execute(db.select(RefusedDocument.id)).scalars().all() == [recent.id]


def test_documents_just_under_the_limit_are_accepted(engine):
    engine.post("/orders", ORDER)
    content = b"%PDF-" + b"0" * (10 * 1024 * 1024 - 5)
    response = engine.post(f"/orders/{NUMBER}/issue", {"documents": [attachment("all.pdf", content)]})
    assert response.status_code == 200
    assert [d.size for d in documents()] == [10 * 1024 * 1024]


def test_an_event_of_an_unknown_order_is_not_found(engine):
    for path, body in (("issue", {}), ("cancellation", {}), ("payments", {"amount": "1.00"})):
        response = engine.post(f"/orders/404404/{path}", body)
        assert response.status_code == 404 and "number" in response.json["errors"]
    assert outbox() == []


def test_amounts_are_written_for_each_reader(engine):
    engine.post("/orders", ORDER | {"language": "en", "amount": "48200.00", "currency": "RUB"})
    engine.post(f"/orders/{NUMBER}/payments", {"amount": "1000.50", "currency": "EUR"})
    [client] = outbox(kinds.PAYMENT_RECEIVED)
    [office] = outbox(kinds.AGENCY_PAYMENT_RECEIVED)
    assert (client.context["paid_amount"], client.context["amount"]) == ("€1,000.50", "RUB\xa048,200.00")
    assert (office.context["paid_amount"], office.context["amount"]) == (
        "1\xa0000,50\xa0€", "48\xa0200,00\xa0₽")
