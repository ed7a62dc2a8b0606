"""The email log: what was sent, what failed and why, and resending."""
from datetime import timedelta

from conftest import sign_in
from outbox_helpers import query_plan, statements_run
from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, get_queue
from webapp.models import OutboxEmail
from webapp.models.types import utcnow


def _row(agency, n, status="sent", kind="order_change", to=None, **extra):
    row = OutboxEmail(agency_id=agency.id, kind=kind, dedupe_key=f"k{n}", status=status,
                      to_address=to or f"client{n}@example.org", subject=f"Subject {n}", **extra)
    db.session.add(row)
    db.session.commit()
    return row


def test_failed_row_shows_reply_hint_and_link_to_the_field(admin_client, agency):
    _row(agency, 1, status="failed", status_reason="refused", attempts=1, last_code=550,
         last_reply="5.1.1 User unknown", hint_code="recipient_rejected")
    page = admin_client.get("/email-log/").get_data(as_text=True)
    assert "5.1.1 User unknown" in page
    assert "Отклонено почтовым сервером" in page
    assert 'name="row" value=' in page


def test_filters_by_status_kind_recipient_and_date(admin_client, agency):
    _row(agency, 1, status="sent", to="anna@example.org")
    _row(agency, 2, status="failed", to="boris@example.org")
    _row(agency, 3, status="failed", kind="time_limit_warning", to="vera@example.org")
    old = _row(agency, 4, status="failed", to="old@example.org")
    old.created_at = utcnow() - timedelta(days=40)
    db.session.commit()

    def shown(query):
        page = admin_client.get("/email-log/?" + query).get_data(as_text=True)
        return {n for n, name in enumerate(["anna", "boris", "vera", "old"], 1) if f"{name}@example.org" in page}

    assert shown("status=failed") == {2, 3, 4}
    assert shown("status=failed&kind=order_change") == {2, 4}
    assert shown("recipient=BOR") == {2}
    assert shown(f"date_from={(utcnow() - timedelta(days=1)).date()}") == {1, 2, 3}


def test_a_bad_filter_value_is_explained_not_a_500(admin_client, agency):
    response = admin_client.get("/email-log/?status=bogus&date_from=yesterday")
    assert response.status_code == 200
    assert "Статус" in response.get_data(as_text=True)


def test_pages_of_fifty(admin_client, agency):
    for n in range(55):
        _row(agency, n)
    first = admin_client.get("/email-log/").get_data(as_text=True)
    second = admin_client.get("/email-log/?page=2").get_data(as_text=True)
    assert first.count('<tr id="email-') == 50 and second.count('<tr id="email-') == 5
    assert "Страница 1 из 2" in first


def test_resending_failed_rows_queues_them_and_wakes_the_sender(admin_client, agency):
    failed = _row(agency, 1, status="failed", attempts=3)
    sent = _row(agency, 2, status="sent")
    response = admin_client.post("/email-log/resend", data={"row": [failed.id, sent.id]})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxEmail, failed.id).status == "queued"
    assert db.session.get(OutboxEmail, sent.id).status == "sent"  # a sent email is never resent
    assert get_queue(MAIL_QUEUE).count == 1


def test_another_agencys_rows_are_neither_shown_nor_resent(client, make_agency, make_user):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    theirs = _row(beta, 1, status="failed", to="secret-client@beta.example")
    sign_in(client, make_user(alpha))
    assert "secret-client@beta.example" not in client.get("/email-log/").get_data(as_text=True)
    client.post("/email-log/resend", data={"row": [theirs.id]})
    db.session.expire_all()
    assert db.session.get(OutboxEmail, theirs.id).status == "failed"


def test_staff_see_the_log_but_cannot_resend(client, agency, make_user):
    row = _row(agency, 1, status="failed")
    sign_in(client, make_user(agency, email="clerk@alpha.example", admin=False))
    assert client.get("/email-log/").status_code == 200
    assert client.post("/email-log/resend", data={"row": [row.id]}).status_code == 403


def test_odd_filter_and_resend_values_are_not_a_500(admin_client, agency):
    assert admin_client.get("/email-log/?date_to=9999-12-31&date_from=0001-01-01").status_code == 200
    row = _row(agency, 1, status="failed")
    for value in ("²", "9" * 40, "-1", ""):
        assert admin_client.post("/email-log/resend", data={"row": value}).status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxEmail, row.id).status == "failed"


def test_the_log_pages_read_newest_first_without_sorting_the_history(admin_client, agency):
    # Sorting an agency's whole history for each page took 2.2 s at 400,000 emails; an index
    # gives its rows newest first, whole or of one status.
    _row(agency, 1)
    for query in ("", "?status=failed"):
        with statements_run("SELECT outbox_email.id") as pages:
            assert admin_client.get("/email-log/" + query).status_code == 200
        (statement, parameters), = [(s, p) for s, p in pages if "ORDER BY" in s]
        plan = query_plan(statement, parameters)
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, (query, plan)


def test_a_refused_client_address_names_the_client_and_no_settings_field(admin_client, agency):
    # Issue 16.6: a notification's refused recipient is the client, not the agency.
    _row(agency, 1, status="failed", kind="order_change", status_reason="refused", attempts=1,
         last_code=550, hint_code="recipient_rejected",
         last_reply="5.1.1 <client1@example.org>: Recipient address rejected: User unknown in local recipient table")
    page = admin_client.get("/email-log/").get_data(as_text=True)

    assert "Адрес клиента отклонён" in page
    assert "В настройках почты менять нечего" in page
    assert "адрес агентства" not in page and "#agency_email" not in page
    assert 'data-at-fault="client"' in page


def test_a_refused_payment_problems_address_points_at_its_field(admin_client, agency):
    _row(agency, 1, status="failed", kind="payment_problem", status_reason="refused", attempts=1,
         last_code=550, last_reply="5.1.1 The email account that you tried to reach does not exist.",
         hint_code="recipient_rejected", to="pay@alpha.example")
    page = admin_client.get("/email-log/").get_data(as_text=True)

    assert "Адрес для уведомлений о проблемах с оплатой отклонён" in page
    assert "#payment_problems_email" in page and "#agency_email" not in page


def test_a_deferred_row_says_it_is_retried_and_asks_to_change_nothing(admin_client, agency):
    _row(agency, 1, status="queued", kind="time_limit_warning", status_reason="will_retry", attempts=1,
         last_code=452, last_reply="4.2.2 The email account that you tried to reach is over quota.",
         hint_code="mailbox_full")
    page = admin_client.get("/email-log/").get_data(as_text=True)

    assert "Ящик клиента переполнен" in page
    assert "отправляются повторно сами" in page
    assert "#agency_email" not in page and "Open the mail settings" not in page


def test_an_spf_dkim_dmarc_refusal_points_at_the_troubleshooting_check(admin_client, agency):
    _row(agency, 1, status="failed", kind="order_change", status_reason="refused", attempts=1,
         last_code=550, hint_code="message_auth_failed",
         last_reply="5.7.9 This mail has been blocked because the sender is unauthenticated. "
                    "Yahoo requires all senders to authenticate with either SPF or DKIM.")
    page = admin_client.get("/email-log/").get_data(as_text=True)

    assert "не прошло проверку SPF, DKIM или DMARC" in page
    assert "/troubleshooting#check-spf" in page
