"""A worker killed in the middle of a batch loses no notification."""
import collections
import email
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email import policy
from pathlib import Path

from conftest import ROOT
from outbox_helpers import point_agency_at, queue_confirmations, reload
from webapp.models.types import utcnow
from webapp.outbox.sender import LEASE, UNKNOWN_RESEND_AFTER, send_due


def test_a_worker_killed_mid_batch_loses_nothing(agency, smtp_server, flask_env):
    server = smtp_server(delay=0.05)  # slow enough to kill the worker between messages
    point_agency_at(agency, server)
    rows = queue_confirmations(agency, 12)
    worker = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "worker"], env=flask_env,
                              cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(server.handler.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    assert 3 <= len(server.handler.received) < len(rows), "the kill did not land mid-batch"

    after_lease = utcnow() + LEASE + timedelta(seconds=1)
    send_due(agency.id, now=after_lease)
    # The message in flight at the kill, if any, is resent once, later (RFC 1047).
    send_due(agency.id, now=after_lease + UNKNOWN_RESEND_AFTER + timedelta(seconds=1))

    assert {reload(row).status for row in rows} == {"sent"}
    delivered = collections.Counter(
        str(email.message_from_bytes(r.content, policy=policy.default)["To"])
        for r in server.handler.received)
    assert set(delivered) == {row.to_address for row in rows}
    # Only the message in flight at the kill may arrive twice.
    assert sum(delivered.values()) - len(rows) <= 1
