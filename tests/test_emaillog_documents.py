"""An email's documents in the email log (S15): name and size for the staff, the download for the
agency's admins only; kept 30 days after the email is done, then deleted by the scheduler."""
from datetime import timedelta

import pytest

from api_fixtures import ORDER, outbox
from conftest import sign_in
from document_samples import PDF, PNG, attachment
from webapp.extensions import db
from webapp.models import OutboxDocument, OutboxEmail
from webapp.models.types import utcnow
from webapp.notification_kinds import BOOKING_ISSUED
from webapp.outbox.documents import purge_documents
from webapp.schedule.service import tick

NUMBER = ORDER["number"]


def issue_with_documents(engine):
    engine.post("/orders", ORDER)
    engine.post(f"/orders/{NUMBER}/issue", {"documents": [
        attachment("Маршрутная квитанция.pdf", PDF), attachment("voucher.png", PNG, "image/png")]})
    [row] = outbox(BOOKING_ISSUED)
    return row, db.session.execute(db.select(OutboxDocument).order_by(OutboxDocument.id)).scalars().all()


def test_the_log_shows_each_document_with_its_size_and_admins_download_it(admin_client, engine):
    row, (pdf, png) = issue_with_documents(engine)

    page = admin_client.get("/email-log/").get_data(as_text=True)
    assert "Маршрутная квитанция.pdf</a> (195,3 КБ)" in page
    assert "voucher.png</a> (29,3 КБ)" in page
    url = f"/email-log/{row.id}/documents/{pdf.id}"
    assert f'href="{url}"' in page

    response = admin_client.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D0%9C" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A document of another email of the same agency is not reachable under this one.
    assert admin_client.get(f"/email-log/{row.id - 1}/documents/{pdf.id}").status_code == 404


def test_staff_who_are_not_admins_see_the_names_but_cannot_download(client, agency, make_user, engine):
    row, (pdf, _png) = issue_with_documents(engine)
    sign_in(client, make_user(agency, "clerk@alpha.example", admin=False))

    page = client.get("/email-log/").get_data(as_text=True)
    assert "Маршрутная квитанция.pdf (195,3 КБ)" in page and "/documents/" not in page
    assert client.get(f"/email-log/{row.id}/documents/{pdf.id}").status_code == 403


def test_another_agencys_admin_gets_not_found(client, engine, make_agency, make_user):
    row, (pdf, _png) = issue_with_documents(engine)
    sign_in(client, make_user(make_agency("beta"), "boss@beta.example"))
    assert client.get(f"/email-log/{row.id}/documents/{pdf.id}").status_code == 404


def age(row, status, days, now):
    db.session.execute(db.update(OutboxEmail).filter_by(id=row.id).values(
        status=status, updated_at=now - timedelta(days=days)))
    db.session.commit()


def kept() -> list[tuple[str, int, bool]]:
    """Each document's name, size and whether its bytes are still there."""
    db.session.expire_all()
    return [(d.filename, d.size, d.content is not None) for d in db.session.execute(
        db.select(OutboxDocument).order_by(OutboxDocument.id)).scalars()]


KEPT = [("Маршрутная квитанция.pdf", len(PDF), True), ("voucher.png", len(PNG), True)]
PURGED = [("Маршрутная квитанция.pdf", len(PDF), False), ("voucher.png", len(PNG), False)]


@pytest.mark.parametrize("done", ["sent", "failed", "skipped", "unknown"])
def test_documents_are_kept_until_30_days_after_the_email_is_done(engine, done):
    row, _documents = issue_with_documents(engine)
    now = utcnow()

    age(row, "queued", 40, now)  # still waiting to be sent: never deleted, however old
    assert purge_documents(now) == 0 and kept() == KEPT
    age(row, done, 29, now)
    assert purge_documents(now) == 0 and kept() == KEPT
    age(row, done, 31, now)  # "failed" is given up: a temporary failure keeps "queued"
    assert tick(now)["purge_documents"] == 2 and kept() == PURGED
    assert purge_documents(now) == 0  # once


def test_the_log_says_a_document_was_deleted_and_its_email_is_not_resent(admin_client, engine):
    row, (pdf, _png) = issue_with_documents(engine)
    now = utcnow()
    age(row, "failed", 31, now)
    purge_documents(now)

    page = admin_client.get("/email-log/").get_data(as_text=True)
    assert "Маршрутная квитанция.pdf (195,3 КБ) — " in page
    assert page.count("удалён через 30 дней") == 2
    assert f"/documents/{pdf.id}" not in page
    assert admin_client.get(f"/email-log/{row.id}/documents/{pdf.id}").status_code == 404

    answer = admin_client.post("/email-log/resend", data={"row": [row.id]}, follow_redirects=True)
    assert "не отправлено повторно: его документы удалены" in answer.get_data(as_text=True)
    [again] = outbox(BOOKING_ISSUED)
    assert again.status == "failed"
