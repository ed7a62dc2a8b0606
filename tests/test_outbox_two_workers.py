"""Workers on several machines share one database and one Redis: no row is ever sent twice."""
import collections
import contextlib
import email
import os
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

from conftest import ROOT
from outbox_helpers import point_agency_at, query_plan, statements_run
from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, get_queue, send_outbox
from webapp.models import OutboxEmail
from webapp.models.types import utcnow
from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
from webapp.outbox.sender import BATCH_SIZE, claim_due
from webapp.outbox.service import queue_email

# More rows than one batch for the first agency, so two workers send its batches side by side.
ROWS_PER_AGENCY = {"alpha": 120, "beta": 60, "gamma": 30}
WAKES_PER_AGENCY = 3


def start_worker(env, *options):
    return subprocess.Popen([str(Path(sys.executable).parent / "flask"), "worker", *options],
                            env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(workers):
    """SIGTERM to each main process only, as systemd's KillMode=mixed does: a pool passes it on."""
    for worker in workers:
        worker.terminate()
    try:
        for worker in workers:
            worker.wait(30)
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):  # whatever a failed stop left behind
                os.killpg(worker.pid, signal.SIGKILL)


def test_two_workers_deliver_every_row_exactly_once(make_agency, smtp_server, flask_env):
    server = smtp_server()
    agencies = [make_agency(slug) for slug in ROWS_PER_AGENCY]
    for agency in agencies:
        point_agency_at(agency, server)
        for n in range(ROWS_PER_AGENCY[agency.slug]):
            queue_email(agency.id, REGISTRATION_CONFIRMATION, f"client{n}@{agency.slug}.example",
                        sample_context(REGISTRATION_CONFIRMATION), f"registration:{n}")
    db.session.commit()
    # Several wake-ups per agency, as replays, sweeps and lost flags produce them.
    for agency in agencies:
        for _ in range(WAKES_PER_AGENCY):
            get_queue(MAIL_QUEUE).enqueue(send_outbox, agency.id)
    total = sum(ROWS_PER_AGENCY.values())

    # One plain worker and one pool of two, as on two machines.
    workers = [start_worker(flask_env), start_worker(flask_env, "--pool", "2")]
    try:
        deadline = time.monotonic() + 90
        while len(server.handler.received) < total and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop(workers)  # once they have exited, a duplicate would have arrived

    messages = [email.message_from_bytes(r.content, policy=policy.default)
                for r in server.handler.received]
    delivered = collections.Counter(str(message["Message-ID"]) for message in messages)
    assert len(messages) == total
    assert set(delivered.values()) == {1}
    assert len({str(message["To"]) for message in messages}) == total
    db.session.expire_all()
    rows = db.session.execute(db.select(OutboxEmail)).scalars().all()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
    assert {row.message_id for row in rows} == set(delivered)


def test_a_claim_takes_one_batch_and_the_next_claim_the_rest(agency):
    # PostgreSQL once claimed all 120 here: a LIMIT subquery rescanned inside the UPDATE.
    for n in range(BATCH_SIZE + 20):
        queue_email(agency.id, REGISTRATION_CONFIRMATION, f"client{n}@example.org",
                    sample_context(REGISTRATION_CONFIRMATION), f"registration:{n}")
    db.session.commit()

    first = {row.id for row in claim_due(agency.id, now=utcnow())}
    second = {row.id for row in claim_due(agency.id, now=utcnow())}

    assert (len(first), len(second)) == (BATCH_SIZE, 20)
    assert not first & second


def test_a_claim_finds_its_batch_through_the_due_index(agency):
    # Over the (agency, status, due time) index the two sendable statuses made two ranges that
    # SQLite merged and sorted whole: a claim read every due row of the agency, 10,000 of them in
    # a backlog of 10,000. The due index yields them in order, and the claim stops at its batch.
    queue_email(agency.id, REGISTRATION_CONFIRMATION, "client@example.org",
                sample_context(REGISTRATION_CONFIRMATION), "registration:1")
    db.session.commit()
    with statements_run("UPDATE outbox_email", "WITH candidates") as claims:
        claim_due(agency.id, now=utcnow())

    (statement, parameters), = claims
    assert "ix_outbox_email_due" in query_plan(statement, parameters)
