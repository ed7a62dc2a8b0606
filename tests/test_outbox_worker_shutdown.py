"""SIGTERM lets a worker finish the batch it is sending; the rest waits, queued, for the next worker."""
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

import pytest

from conftest import ROOT
from outbox_helpers import point_agency_at
from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, get_queue
from webapp.models import OutboxEmail
from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
from webapp.outbox.limits import DEFAULT_CONNECTION_CAP
from webapp.outbox.sender import BATCH_SIZE
from webapp.outbox.service import queue_email, wake

# A full batch for each of the agency's sessions (its connection cap), and as many after them.
IN_FLIGHT = DEFAULT_CONNECTION_CAP * BATCH_SIZE
MORE_THAN_A_BATCH = 2 * IN_FLIGHT


@pytest.mark.parametrize("options", [(), ("--pool", "2")], ids=["one-worker", "pool"])
def test_sigterm_finishes_the_batch_in_flight_and_leaves_the_rest_queued(
        options, agency, smtp_server, flask_env, run_worker):
    server = smtp_server(delay=0.005)  # a batch takes seconds: the signal lands inside it
    point_agency_at(agency, server)
    for n in range(MORE_THAN_A_BATCH):
        queue_email(agency.id, REGISTRATION_CONFIRMATION, f"client{n}@example.org",
                    sample_context(REGISTRATION_CONFIRMATION), f"registration:{n}")
    db.session.commit()
    wake(agency.id)
    worker = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "worker", *options],
                              env=flask_env, cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not server.handler.received and time.monotonic() < deadline:
            time.sleep(0.01)
        # To the main process only, as systemd's KillMode=mixed does; a pool passes it on.
        worker.terminate()
        exit_code = worker.wait(60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)

    assert exit_code == 0
    db.session.expire_all()
    statuses = collections.Counter(db.session.execute(db.select(OutboxEmail.status)).scalars())
    # The batches in flight were finished, no next one started, no row was left 'sending'.
    assert statuses == {"sent": IN_FLIGHT, "queued": MORE_THAN_A_BATCH - IN_FLIGHT}
    assert len(server.handler.received) == IN_FLIGHT
    assert get_queue(MAIL_QUEUE).count == 1, "the rest was handed to the next worker"

    run_worker()

    statuses = collections.Counter(db.session.execute(db.select(OutboxEmail.status)).scalars())
    assert statuses == {"sent": MORE_THAN_A_BATCH}
    delivered = collections.Counter(
        str(email.message_from_bytes(r.content, policy=policy.default)["To"])
        for r in server.handler.received)
    assert len(delivered) == MORE_THAN_A_BATCH and set(delivered.values()) == {1}
