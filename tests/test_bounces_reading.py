"""Bounces are read back from a real IMAP mailbox (Dovecot), matched to the email sent and recorded."""
import threading

import pytest

from bounce_helpers import bounce_for, point_incoming_at, send_confirmation
from outbox_helpers import reload
from webapp.bounces.service import read_bounces
from webapp.extensions import db
from webapp.models import Bounce


@pytest.fixture
def app_config(app_config, smtp_tls_files):
    app_config["MAIL_CA_FILE"] = smtp_tls_files.ca_file
    return app_config


def bounces():
    db.session.expire_all()
    return db.session.execute(db.select(Bounce).order_by(Bounce.id)).scalars().all()


@pytest.mark.parametrize("sample, reason, status, report_format", [
    ("postfix.eml", "no_such_user", "5.1.1", "postfix"),
    ("exim.eml", "no_such_user", "5.1.1", "exim"),
    ("mailru.eml", "no_such_user", "", "mailru"),
    ("yandex.eml", "no_such_user", "5.7.1", "yandex"),
    ("gmail.eml", "no_such_user", "5.1.1", "gmail"),
    ("gmail_dmarc.eml", "authentication", "5.7.26", "gmail"),
    ("exchange.eml", "no_such_user", "5.1.10", "exchange"),
    ("outlook_mailbox_full.eml", "mailbox_full", "5.2.2", "rfc3464"),
])
def test_each_providers_bounce_is_matched_to_its_email_and_classified(
        agency, smtp_server, run_worker, imap_mailbox, sample, reason, status, report_format):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for(sample, row))

    result = read_bounces(agency.id)

    assert (result.read, result.bounces, result.unmatched) == (1, 1, 0)
    (bounce,) = bounces()
    assert (bounce.outbox_email_id, bounce.recipient) == (row.id, "client@example.org")
    assert (bounce.reason, bounce.status, bounce.report_format) == (reason, status, report_format)
    assert bounce.diagnostic.startswith("550")
    row = reload(row)
    assert (row.status, row.last_code) == ("bounced", 550)
    assert bounce.diagnostic == f"550 {row.last_reply}"


def test_a_bounce_without_the_message_id_is_matched_by_its_recipient_and_subject(
        agency, smtp_server, run_worker, imap_mailbox):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    raw = bounce_for("yandex.eml", row).replace(row.message_id.encode(), b"<rewritten-by-a-relay@relay.example>")
    imap_mailbox.deliver(raw)

    assert read_bounces(agency.id).bounces == 1
    assert reload(row).status == "bounced"


def test_an_out_of_office_reply_is_ignored(agency, smtp_server, run_worker, imap_mailbox):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for("out_of_office.eml", row))

    result = read_bounces(agency.id)

    assert (result.read, result.auto_replies, result.bounces) == (1, 1, 0)
    assert bounces() == []
    assert reload(row).status == "sent"


def test_a_bounce_of_another_system_is_left_unmatched(agency, smtp_server, run_worker, imap_mailbox):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    raw = bounce_for("postfix.eml", row, recipient="someone@else.example")
    imap_mailbox.deliver(raw.replace(row.message_id.encode(), b"<not-ours@else.example>"))

    result = read_bounces(agency.id)

    assert (result.bounces, result.unmatched) == (0, 1)
    assert reload(row).status == "sent"


def test_only_new_messages_are_read_and_the_mailbox_is_left_untouched(
        agency, smtp_server, run_worker, imap_mailbox):
    server = smtp_server()
    first = send_confirmation(agency, server, run_worker)
    second = send_confirmation(agency, server, run_worker, to="other@example.org", key="registration:2")
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for("postfix.eml", first))
    assert read_bounces(agency.id).read == 1

    imap_mailbox.deliver(bounce_for("exim.eml", second))
    result = read_bounces(agency.id)

    assert (result.read, result.bounces) == (1, 1)
    assert [b.outbox_email_id for b in bounces()] == [first.id, second.id]
    assert read_bounces(agency.id).read == 0
    # Nothing marked read, moved or deleted: the admin did not opt in.
    assert imap_mailbox.flags() == {1: "", 2: ""}


def test_bounces_are_marked_read_or_moved_only_when_the_admin_opted_in(
        agency, smtp_server, run_worker, imap_mailbox):
    server = smtp_server()
    first = send_confirmation(agency, server, run_worker)
    second = send_confirmation(agency, server, run_worker, to="other@example.org", key="registration:2")
    point_incoming_at(agency, imap_mailbox, after_reading="seen")
    imap_mailbox.deliver(bounce_for("postfix.eml", first))
    imap_mailbox.deliver(b"From: friend@example.org\r\nSubject: hello\r\n\r\nnot a bounce\r\n")
    read_bounces(agency.id)
    assert imap_mailbox.flags() == {1: "\\Seen", 2: ""}

    client = imap_mailbox.connect()
    client.create("Bounces")
    client.logout()
    # Moving, read from the start again: both bounces go to the folder, the other message stays.
    point_incoming_at(agency, imap_mailbox, after_reading="move", move_folder="Bounces")
    imap_mailbox.deliver(bounce_for("exim.eml", second))
    read_bounces(agency.id)
    assert list(imap_mailbox.flags()) == [2]
    client = imap_mailbox.connect()
    assert client.select("Bounces")[1] == [b"2"]
    client.logout()
    assert len(bounces()) == 2


def test_a_changed_uidvalidity_starts_again_without_recording_twice(
        agency, smtp_server, run_worker, imap_mailbox):
    server = smtp_server()
    first = send_confirmation(agency, server, run_worker)
    second = send_confirmation(agency, server, run_worker, to="other@example.org", key="registration:2")
    incoming = point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for("postfix.eml", first))
    imap_mailbox.deliver(b"From: friend@example.org\r\nSubject: hello\r\n\r\nnot a bounce\r\n")
    read_bounces(agency.id)
    db.session.refresh(incoming)
    old_validity, old_last = incoming.uidvalidity, incoming.last_uid
    assert old_last == 2

    # The server renumbers the mailbox: the same bounce again, then a new one, now UIDs 1 and 2.
    imap_mailbox.recreate()
    imap_mailbox.deliver(bounce_for("postfix.eml", first))
    imap_mailbox.deliver(bounce_for("gmail.eml", second))
    result = read_bounces(agency.id)

    db.session.refresh(incoming)
    assert incoming.uidvalidity != old_validity
    # UID 2 was already seen under the old UIDVALIDITY: skipping to it would lose the new bounce.
    assert (result.read, result.bounces) == (2, 1)
    assert [(b.outbox_email_id, b.report_format) for b in bounces()] == [(first.id, "postfix"), (second.id, "gmail")]


def test_two_runs_at_once_record_each_bounce_once(agency, smtp_server, run_worker, imap_mailbox, app):
    server = smtp_server()
    rows = [send_confirmation(agency, server, run_worker, to=f"c{n}@example.org", key=f"registration:{n}")
            for n in range(5)]
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver_many(bounce_for("postfix.eml", row) for row in rows)
    results = []

    def run():
        with app.app_context():
            results.append(read_bounces(agency.id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(r.bounces for r in results) == 5
    assert len(bounces()) == 5
    # Even without the lock (it expired, a second installation): the same bounces again change nothing.
    from webapp.models import IncomingMailSettings
    incoming = db.session.execute(db.select(IncomingMailSettings)).scalar_one()
    incoming.last_uid = 0
    db.session.commit()
    assert read_bounces(agency.id).bounces == 0
    assert len(bounces()) == 5


def test_a_run_reads_at_most_n_messages_after_one_search(agency, smtp_server, run_worker, imap_mailbox, app):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    newsletter = b"From: a@example.org\r\nSubject: news\r\n\r\n" + b"news of the week\r\n" * 1200  # 21 KB
    imap_mailbox.deliver_many([newsletter] * 300 + [bounce_for("postfix.eml", row)])

    first = read_bounces(agency.id, max_messages=100)
    assert (first.read, first.left) == (100, 201)
    # The run downloaded its hundred messages, not the mailbox: the rest was one UID SEARCH.
    sent = imap_mailbox.bytes_sent_by_server()[-1]
    assert 100 * len(newsletter) < sent < 110 * len(newsletter)
    while read_bounces(agency.id, max_messages=100).read:
        pass
    assert reload(row).status == "bounced"


def test_a_wrong_imap_password_gives_its_hint(agency, smtp_server, run_worker, imap_mailbox):
    point_incoming_at(agency, imap_mailbox, password="not the password")
    result = read_bounces(agency.id)
    assert result.skipped == "imap_login_failed"
    from webapp.models import IncomingMailSettings
    assert db.session.execute(db.select(IncomingMailSettings)).scalar_one().last_error == "imap_login_failed"


def test_implicit_tls_is_verified_against_the_certificate(agency, smtp_server, run_worker, imap_mailbox):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox, security="tls")
    imap_mailbox.deliver(bounce_for("gmail.eml", row))
    assert read_bounces(agency.id).bounces == 1


def test_a_run_stops_at_its_time_limit_and_the_next_one_goes_on(agency, smtp_server, run_worker, imap_mailbox):
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver_many([b"From: a@example.org\r\nSubject: news\r\n\r\nnews\r\n"] * 50
                              + [bounce_for("postfix.eml", row)])

    cut_short = read_bounces(agency.id, max_seconds=0.001)
    assert cut_short.left > 0 and cut_short.read < 51

    assert read_bounces(agency.id).bounces == 1
    assert reload(row).status == "bounced"


def test_the_scheduler_queues_one_reading_per_agency_that_turned_it_on(
        agency, make_agency, smtp_server, run_worker, imap_mailbox):
    from webapp.bounces.service import queue_readings
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    point_incoming_at(make_agency("beta"), imap_mailbox, enabled=False)
    imap_mailbox.deliver(bounce_for("exim.eml", row))

    assert queue_readings() == 1
    assert queue_readings() == 0  # the first is still queued
    run_worker()

    assert reload(row).status == "bounced"
    assert queue_readings() == 1  # done: the next tick queues it again


def test_an_operator_reads_bounces_from_the_command_line(agency, smtp_server, run_worker, imap_mailbox,
                                                         flask_env):
    from conftest import flask_cli
    row = send_confirmation(agency, smtp_server(), run_worker)
    point_incoming_at(agency, imap_mailbox)
    imap_mailbox.deliver(bounce_for("mailru.eml", row))

    result = flask_cli(flask_env, "mail", "read-bounces", "--agency", "alpha")

    assert result.returncode == 0, result.stderr
    assert "bounces recorded 1" in result.stdout
    assert reload(row).status == "bounced"
    point_incoming_at(agency, imap_mailbox, enabled=False)
    assert flask_cli(flask_env, "mail", "read-bounces", "--agency", "alpha").returncode == 2


def test_a_bounce_finds_its_email_by_an_index_not_by_reading_the_agencys_history(agency):
    from outbox_helpers import query_plan, queue_confirmations, statements_run
    from webapp.bounces.dsn import FailedRecipient, Report
    from webapp.bounces.service import _matching_email
    # A history to choose from: on an empty table every index of the agency costs the same.
    for number, row in enumerate(queue_confirmations(agency, 300)):
        row.message_id = f"<{number}@alpha.example>"
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE outbox_email"))
        db.session.commit()
    report = Report("bounce", "rfc3464", (FailedRecipient("a@example.org", "5.1.1", "550"),),
                    ("<x@alpha.example>",), "a@example.org", "")
    with statements_run("SELECT") as seen:
        _matching_email(agency.id, report)
    statement, parameters = next((s, p) for s, p in seen if "message_id IN" in s.replace('"', "") or
                                 "message_id IN" in s)
    assert "ix_outbox_email_agency_message_id" in query_plan(statement, parameters)
