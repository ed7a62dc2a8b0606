"""Notifications leave through the outbox exactly once, or the administrator sees why not."""
import email
import time
from datetime import timedelta
from email import policy

import pytest
import redis

from outbox_helpers import point_agency_at, queue_confirmation, queue_confirmations, reload
from webapp.extensions import db
from webapp.models import EmailTemplate, SendingPause
from webapp.models.types import utcnow
from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
from webapp.outbox import journal
from webapp.outbox.journal import Accepted, Journal
from webapp.outbox.sender import LEASE, UNKNOWN_RESEND_AFTER, claim_due, send_due, settle_abandoned
from webapp.jobs import redis_connection
from webapp.outbox.service import WAKE_FLAG, clear_wake, queue_email, sweep
from webapp.smtpcheck.service import execute_test_run, start_test_run


def test_a_queued_notification_is_sent_once_by_the_worker(agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)

    row = queue_confirmation(agency)
    run_worker()

    assert len(server.handler.received) == 1
    message = email.message_from_bytes(server.handler.received[0].content, policy=policy.default)
    assert message["To"] == "client@example.org"
    assert "Альфа-Тур" in str(message["From"])
    assert message["Subject"] == reload(row).subject != ""
    row = reload(row)
    assert (row.status, row.attempts, row.last_code) == ("sent", 1, 250)


def test_a_replayed_event_is_still_one_email(agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server)
    queue_confirmation(agency, key="registration:7")
    queue_confirmation(agency, key="registration:7")
    run_worker()
    assert len(server.handler.received) == 1


def test_copies_go_to_the_copies_address_invisibly(agency, smtp_server, run_worker):
    server = smtp_server()
    point_agency_at(agency, server, copies_email="copies@alpha.example")
    queue_confirmation(agency)
    run_worker()

    (received,) = server.handler.received
    assert received.rcpt_tos == ["client@example.org", "copies@alpha.example"]
    assert b"copies@alpha.example" not in received.content


def test_a_message_refused_mid_batch_leaves_the_next_ones_intact(agency, smtp_server):
    # Each message's commands go with the previous one's text: a refusal in between must not
    # put anything into the next message (an RSET there would be read as its text).
    server = smtp_server(replies={"DATA": [None, "554 5.6.0 Message refused"]})
    point_agency_at(agency, server)
    rows = queue_confirmations(agency, 3)

    send_due(agency.id)

    assert [reload(row).status for row in rows] == ["sent", "failed", "sent"]
    delivered = [email.message_from_bytes(received.content, policy=policy.default)
                 for received in server.handler.received]
    assert [message["To"] for message in delivered] == ["client0@example.org", "client2@example.org"]
    assert all(message.get_content_type() == "multipart/alternative" for message in delivered)
    assert server.handler.sessions == 1


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_batch_with_copies_reaches_every_client_and_the_copies_address(agency, smtp_server,
                                                                        pipelining):
    # Under PIPELINING each message is announced with the previous one's text; with copies its
    # DATA waits for the RCPT replies. Without PIPELINING every command waits for its reply.
    server = smtp_server(pipelining=pipelining)
    point_agency_at(agency, server, copies_email="copies@alpha.example")
    rows = queue_confirmations(agency, 3)

    send_due(agency.id)

    assert [reload(row).status for row in rows] == ["sent"] * 3
    assert [received.rcpt_tos for received in server.handler.received] == [
        [f"client{number}@example.org", "copies@alpha.example"] for number in range(3)]
    delivered = [email.message_from_bytes(received.content, policy=policy.default)
                 for received in server.handler.received]
    assert [message["To"] for message in delivered] == [f"client{n}@example.org" for n in range(3)]
    assert server.handler.sessions == 1


def test_a_temporary_refusal_is_retried_later_and_then_sent(agency, smtp_server):
    server = smtp_server(replies={"DATA": ["451 4.3.0 Try again later"]})
    point_agency_at(agency, server)
    row = queue_confirmation(agency)

    send_due(agency.id)
    row = reload(row)
    assert (row.status, row.attempts, row.last_code) == ("queued", 1, 451)
    assert row.next_attempt_at > utcnow() + timedelta(seconds=40)
    assert server.handler.received == []

    send_due(agency.id, now=row.next_attempt_at + timedelta(seconds=1))
    row = reload(row)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(server.handler.received) == 1


def test_a_permanent_refusal_fails_at_once_with_its_hint(agency, smtp_server):
    server = smtp_server(replies={"RCPT": "550 5.1.1 User unknown"})
    point_agency_at(agency, server)
    row = queue_confirmation(agency)

    send_due(agency.id)
    send_due(agency.id, now=utcnow() + timedelta(days=1))

    row = reload(row)
    assert (row.status, row.attempts, row.status_reason) == ("failed", 1, "refused")
    assert row.hint_code == "recipient_rejected"
    assert "User unknown" in row.last_reply


def test_a_refused_login_holds_the_agency_after_one_attempt(agency, smtp_server):
    server = smtp_server(login="office@alpha.example", password="right-one",
                         replies={"AUTH": "535 5.7.8 Username and Password not accepted"})
    point_agency_at(agency, server, login="office@alpha.example", password="wrong-one")
    rows = [queue_confirmation(agency, key=f"registration:{n}") for n in range(3)]

    send_due(agency.id)
    send_due(agency.id)

    assert len(server.handler.auth_attempts) == 1
    failing = db.session.execute(db.select(SendingPause).filter_by(agency_id=agency.id)).scalar_one()
    assert (failing.state, failing.hint_code) == ("failing", "auth_failed")
    assert [reload(row).status for row in rows] == ["queued"] * 3
    assert all(reload(row).attempts == 0 for row in rows)


def test_a_successful_test_email_resumes_a_paused_agency(agency, admin, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    db.session.add(SendingPause(agency_id=agency.id, hint_code="auth_failed", reply="535"))
    db.session.commit()
    row = queue_confirmation(agency)
    send_due(agency.id)
    assert reload(row).status == "queued"

    run = start_test_run(agency, admin)
    execute_test_run(run.id)
    send_due(agency.id)

    assert reload(row).status == "sent"
    assert db.session.execute(db.select(SendingPause)).first() is None


def test_a_missing_template_gives_a_visible_skipped_row(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    db.session.execute(db.delete(EmailTemplate).filter_by(agency_id=agency.id,
                                                         kind="registration_confirmation"))
    db.session.commit()
    row = queue_confirmation(agency)

    send_due(agency.id)

    row = reload(row)
    assert (row.status, row.status_reason) == ("skipped", "no_template")
    assert server.handler.received == []


def test_a_connection_lost_after_data_is_unknown_and_resent_once(agency, smtp_server):
    server = smtp_server(replies={"DATA": ["DROP", "DROP"]})
    point_agency_at(agency, server)
    row = queue_confirmation(agency)

    send_due(agency.id)
    row = reload(row)
    assert row.status == "unknown"
    send_due(agency.id)  # not yet: the resend waits
    assert len(server.handler.received) == 1

    later = utcnow() + UNKNOWN_RESEND_AFTER + timedelta(seconds=1)
    send_due(agency.id, now=later)
    assert reload(row).status == "unknown"  # lost again: it stays unknown, never a third time
    send_due(agency.id, now=later + UNKNOWN_RESEND_AFTER * 2)
    assert len(server.handler.received) == 2


def test_rows_of_a_dead_worker_are_taken_again_after_the_lease(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    row = queue_confirmation(agency)
    claimed = claim_due(agency.id, now=utcnow())  # a worker that then died
    assert [r.id for r in claimed] == [row.id]

    send_due(agency.id)
    assert server.handler.received == []  # still leased to the dead worker

    send_due(agency.id, now=utcnow() + LEASE + timedelta(seconds=1))
    assert reload(row).status == "sent"
    assert len(server.handler.received) == 1


def test_a_dead_workers_batch_is_settled_from_its_journal_not_sent_again(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    rows = queue_confirmations(agency, 5)
    claimed = claim_due(agency.id, now=utcnow())
    # What a worker journals before each message: two were accepted, the third was with the
    # server when the worker died, the last two were never reached.
    batch = Journal(claimed[0].lease_owner)
    accepted = [Accepted(row.id, 250, "2.0.0 Ok: queued as A1", utcnow(), "Подтверждение",
                         f"<{row.id}@alpha.example>") for row in rows[:2]]
    batch.handing(rows[0].id, [])
    batch.handing(rows[1].id, accepted[:1])
    batch.handing(rows[2].id, accepted[1:])

    after_lease = utcnow() + LEASE + timedelta(seconds=1)
    send_due(agency.id, now=after_lease)

    delivered = [received.rcpt_tos[0] for received in server.handler.received]
    assert sorted(delivered) == [row.to_address for row in rows[3:]]  # none of the first two again
    assert [(reload(row).status, reload(row).attempts) for row in rows] == \
        [("sent", 1), ("sent", 1), ("queued", 1), ("sent", 1), ("sent", 1)]
    send_due(agency.id, now=after_lease + UNKNOWN_RESEND_AFTER + timedelta(seconds=1))
    assert [received.rcpt_tos[0] for received in server.handler.received][-1] == rows[2].to_address
    assert (reload(rows[2]).status, reload(rows[2]).attempts) == ("sent", 2)
    assert (reload(rows[0]).last_reply, reload(rows[0]).message_id) == \
        ("2.0.0 Ok: queued as A1", f"<{rows[0].id}@alpha.example>")


def test_the_message_in_flight_when_a_worker_died_is_shown_as_possibly_arrived(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    row = queue_confirmation(agency)
    (claimed,) = claim_due(agency.id, now=utcnow())
    Journal(claimed.lease_owner).handing(row.id, [])

    settle_abandoned(agency.id, now=utcnow() + LEASE + timedelta(seconds=1))

    row = reload(row)
    assert (row.status, row.status_reason) == ("queued", "worker_lost_in_flight")
    assert server.handler.received == []


def test_a_message_in_flight_at_two_kills_is_still_sent(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    row = queue_confirmation(agency)
    moment = utcnow()
    for _ in range(2):  # each time a worker takes it, hands it over and dies before the reply
        (claimed,) = claim_due(agency.id, now=moment)
        Journal(claimed.lease_owner).handing(row.id, [])
        moment += LEASE + UNKNOWN_RESEND_AFTER + timedelta(seconds=1)
        settle_abandoned(agency.id, now=moment - UNKNOWN_RESEND_AFTER)

    send_due(agency.id, now=moment)

    assert (reload(row).status, reload(row).attempts) == ("sent", 3)
    assert len(server.handler.received) == 1


def test_on_a_slow_server_sent_emails_show_as_sent_before_the_batch_ends(agency, smtp_server,
                                                                          background_worker):
    server = smtp_server(delay=0.15)  # ~0.45 s an email: a batch of 8 takes over 3 s
    point_agency_at(agency, server)
    rows = queue_confirmations(agency, 8)

    def statuses():
        return [reload(row).status for row in rows]

    deadline = time.monotonic() + 30
    while "sent" not in statuses() and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = statuses()
    assert "sent" in seen and set(seen) != {"sent"}, seen  # written every STATUS_EVERY_S
    while set(statuses()) != {"sent"} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(statuses()) == {"sent"}
    assert len(server.handler.received) == len(rows)


def test_a_batch_whose_first_row_is_skipped_still_records_the_rest_as_sent(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    skipped = queue_confirmation(agency, to="", key="registration:1")
    row = queue_confirmation(agency, to="client@example.org", key="registration:2")

    send_due(agency.id)
    send_due(agency.id, now=utcnow() + LEASE + UNKNOWN_RESEND_AFTER * 2)

    assert (reload(skipped).status, reload(row).status, reload(row).attempts) == \
        ("skipped", "sent", 1)
    assert len(server.handler.received) == 1


def test_redis_failing_mid_batch_keeps_what_was_sent_and_gives_back_the_rest(agency, smtp_server,
                                                                              monkeypatch):
    server = smtp_server()
    point_agency_at(agency, server)
    rows = queue_confirmations(agency, 4)
    real_handing, handed = Journal.handing, []

    def redis_gone_at_the_third(journal, row_id, accepted):
        handed.append(row_id)
        if len(handed) == 3:
            raise redis.ConnectionError("Redis is restarting")
        return real_handing(journal, row_id, accepted)

    monkeypatch.setattr(Journal, "handing", redis_gone_at_the_third)
    with pytest.raises(redis.ConnectionError):
        send_due(agency.id)
    assert [reload(row).status for row in rows] == ["sent", "sent", "queued", "queued"]

    monkeypatch.setattr(Journal, "handing", real_handing)
    send_due(agency.id)
    assert sorted(r.rcpt_tos[0] for r in server.handler.received) == \
        sorted(row.to_address for row in rows)  # each once


def test_redis_gone_before_the_first_message_gives_every_row_back_at_once(agency, smtp_server,
                                                                         monkeypatch):
    server = smtp_server()
    point_agency_at(agency, server)
    rows = queue_confirmations(agency, 3)
    real_connection, asked = journal.redis_connection, []

    def gone_after_the_claim():
        asked.append(True)
        if len(asked) > 1:  # the claim opened the journal; then Redis went
            raise redis.ConnectionError("Redis is restarting")
        return real_connection()

    monkeypatch.setattr(journal, "redis_connection", gone_after_the_claim)
    with pytest.raises(redis.ConnectionError):
        send_due(agency.id)
    assert [reload(row).status for row in rows] == ["queued"] * 3  # not left "sending" for a lease
    assert server.handler.received == []


def test_a_batch_whose_journal_redis_lost_is_sent_again_later_with_the_reason(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    row = queue_confirmation(agency)
    (claimed,) = claim_due(agency.id, now=utcnow())
    journal.discard(claimed.lease_owner)  # a worker died, and Redis lost its journal

    after_lease = utcnow() + LEASE + timedelta(seconds=1)
    send_due(agency.id, now=after_lease)
    assert (reload(row).status, reload(row).status_reason) == ("queued", "worker_lost_record")
    assert server.handler.received == []

    send_due(agency.id, now=after_lease + UNKNOWN_RESEND_AFTER + timedelta(seconds=1))
    assert reload(row).status == "sent" and len(server.handler.received) == 1


def test_no_recipient_address_is_skipped_with_the_reason(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    row = queue_confirmation(agency, to="")
    send_due(agency.id)
    assert (reload(row).status, reload(row).status_reason) == ("skipped", "no_recipient")


def test_a_notification_past_its_moment_is_not_sent(agency, smtp_server):
    server = smtp_server()
    point_agency_at(agency, server)
    row = queue_confirmation(agency, expires_at=utcnow() - timedelta(minutes=1))
    send_due(agency.id)
    assert (reload(row).status, reload(row).status_reason) == ("failed", "too_late")
    assert server.handler.received == []


def test_an_agency_without_smtp_settings_waits_instead_of_failing(agency):
    agency.mail_settings.host = ""
    db.session.commit()
    row = queue_confirmation(agency)
    report = send_due(agency.id)
    assert report.paused and reload(row).status == "queued"


def test_queueing_tells_whether_the_email_is_new(agency):
    # The caller wakes a sender only for a new row: a wrong False would leave the email waiting
    # for the sweep (it did on PostgreSQL, where an ORM insert reports no row count).
    context = sample_context(REGISTRATION_CONFIRMATION)
    first = queue_email(agency.id, REGISTRATION_CONFIRMATION, "a@example.org", context, "key:1")
    replay = queue_email(agency.id, REGISTRATION_CONFIRMATION, "a@example.org", context, "key:1")
    assert (first, replay) == (True, False)


def test_a_permanent_refusal_before_any_email_pauses_instead_of_failing_them_all(agency, smtp_server):
    server = smtp_server(login="office@alpha.example", password="right",
                         replies={"AUTH": "554 5.7.0 Too many invalid attempts, try much later"})
    point_agency_at(agency, server, login="office@alpha.example", password="right")
    rows = [queue_confirmation(agency, key=f"registration:{n}") for n in range(3)]

    report = send_due(agency.id)

    assert report.failing and report.failed == 0
    assert {reload(row).status for row in rows} == {"queued"}
    assert db.session.execute(db.select(SendingPause).filter_by(agency_id=agency.id)).scalar_one()


def test_a_refused_client_address_sends_no_copy_until_the_client_gets_it(agency, smtp_server):
    server = smtp_server(replies={"RCPT": {"client@example.org": "450 4.2.1 Mailbox busy"}})
    point_agency_at(agency, server, copies_email="copies@alpha.example")
    row = queue_confirmation(agency)

    send_due(agency.id)

    assert server.handler.received == []  # not even the copy
    assert (reload(row).status, reload(row).last_code) == ("queued", 450)


def test_the_sweep_wakes_exactly_the_agencies_with_something_to_send(make_agency):
    due, later, abandoned, done = (make_agency(slug) for slug in ("due", "later", "abandoned", "done"))
    queue_confirmation(due)
    queue_confirmation(later, not_before=utcnow() + timedelta(hours=1))
    queue_confirmation(abandoned)
    claim_due(abandoned.id, now=utcnow())  # by a worker that then died
    sent = queue_confirmation(done)
    sent.status = "sent"
    db.session.commit()
    for agency in (due, later, abandoned, done):
        clear_wake(agency.id)

    assert sweep(now=utcnow() + LEASE + timedelta(seconds=1)) == 2  # the lease has run out
    woken = {agency.slug for agency in (due, later, abandoned, done)
             if redis_connection().exists(WAKE_FLAG.format(agency_id=agency.id))}
    assert woken == {"due", "abandoned"}
