"""A worker drives many SMTP sessions at once (many agencies, several connections for one), never
more connections to an agency's server than its cap, and a SIGKILL with many sessions open loses
nothing and duplicates only the messages that were with a server."""
import collections
import contextlib
import email
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from conftest import ROOT
from fixtures_smtp import RecordingHandler, free_port
from outbox_helpers import point_agency_at
from webapp.extensions import db
from webapp.jobs import MAIL_QUEUE, get_queue, send_outbox
from webapp.models import OutboxEmail
from webapp.models.types import utcnow
from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
from webapp.outbox import limits
from webapp.outbox.sender import BATCH_SIZE, LEASE, UNKNOWN_RESEND_AFTER, send_due
from webapp.outbox.service import queue_email, wake


class Connections:
    """Connections a server has open now, and the most it had at once."""

    def __init__(self):
        self.open = self.peak = self.total = 0
        self._lock = threading.Lock()

    def opened(self):
        with self._lock:
            self.open += 1
            self.total += 1
            self.peak = max(self.peak, self.open)

    def closed(self):
        with self._lock:
            self.open -= 1


class CountingServer:
    def __init__(self, delay: float):
        self.handler = RecordingHandler(delay=delay)
        self.connections = Connections()
        self.port = free_port()
        connections = self.connections

        class CountingSMTP(SMTP):
            def connection_made(self, transport):
                connections.opened()
                super().connection_made(transport)

            def connection_lost(self, error):
                connections.closed()
                super().connection_lost(error)

        class CountingController(Controller):
            def factory(self):
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        self.controller = CountingController(self.handler, hostname="127.0.0.1", port=self.port,
                                             server_hostname="mx.test.local")
        self.controller.start()
        # The controller's own readiness probe connected once: count from its close on.
        wait_for(lambda: self.connections.total >= 1 and self.connections.open == 0, timeout=10)
        self.connections.peak = self.connections.total = 0

    def delivered(self) -> collections.Counter:
        return collections.Counter(
            str(email.message_from_bytes(r.content, policy=policy.default)["To"])
            for r in self.handler.received)


@pytest.fixture
def counting_server():
    servers = []

    def start(delay=0.0):
        servers.append(CountingServer(delay))
        return servers[-1]

    yield start
    for server in servers:
        server.controller.stop()


def queue(agency, count, prefix="client"):
    for n in range(count):
        queue_email(agency.id, REGISTRATION_CONFIRMATION, f"{prefix}{n}@{agency.slug}.example",
                    sample_context(REGISTRATION_CONFIRMATION), f"registration:{prefix}{n}")
    db.session.commit()


def start_worker(env):
    return subprocess.Popen([str(Path(sys.executable).parent / "flask"), "worker"], env=env,
                            cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(workers, sig=signal.SIGTERM):
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, sig)
    for worker in workers:
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


def wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def statuses():
    db.session.expire_all()
    return collections.Counter(db.session.execute(db.select(OutboxEmail.status)).scalars())


def test_a_backlog_goes_over_the_agencys_connection_cap_of_sessions_at_once(agency, counting_server):
    server = counting_server(delay=0.005)
    point_agency_at(agency, server)
    cap = limits.connection_cap(agency.id)
    total = cap * BATCH_SIZE - 30
    queue(agency, total)

    send_due(agency.id)

    # One connection a message at a time before: now the cap's worth at once, and never more.
    assert server.connections.peak == cap == limits.DEFAULT_CONNECTION_CAP
    assert statuses() == {"sent": total}
    delivered = server.delivered()
    assert len(delivered) == total and set(delivered.values()) == {1}
    assert limits.slots_in_use(agency.id) == 0, "every session gave its slot back"


def test_one_worker_sends_to_many_agencies_servers_at_once(make_agency, counting_server, flask_env):
    server = counting_server(delay=0.03)  # ~0.1 s a message: each agency's batch takes ~1 s
    agencies = [make_agency(f"agency{n}") for n in range(6)]
    for agency in agencies:
        point_agency_at(agency, server)
        queue(agency, 10)
    for agency in agencies:
        wake(agency.id)
    worker = start_worker(flask_env)
    try:
        wait_for(lambda: len(server.handler.received) >= 60)
    finally:
        stop([worker])

    # One worker process, one session an agency (10 emails is not a backlog), all at once.
    assert server.connections.peak == len(agencies)
    assert statuses() == {"sent": 60}
    assert set(server.delivered().values()) == {1}


def test_two_workers_and_many_wakes_never_exceed_the_connection_cap(agency, counting_server,
                                                                  flask_env):
    server = counting_server(delay=0.002)
    point_agency_at(agency, server)
    cap = limits.connection_cap(agency.id)
    total = 2 * cap * BATCH_SIZE
    queue(agency, total)
    # Several jobs for the agency at once, in two processes: replays, sweeps, lost flags.
    for _ in range(4):
        get_queue(MAIL_QUEUE).enqueue(send_outbox, agency.id)
    workers = [start_worker(flask_env), start_worker(flask_env)]
    try:
        wait_for(lambda: len(server.handler.received) >= total, timeout=120)
    finally:
        stop(workers)

    assert server.connections.peak == cap
    assert statuses() == {"sent": total}
    assert set(server.delivered().values()) == {1}


def test_a_worker_killed_with_many_sessions_open_loses_nothing(make_agency, counting_server,
                                                              flask_env):
    server = counting_server(delay=0.02)
    agencies = [make_agency(f"agency{n}") for n in range(3)]
    per_agency = 3 * BATCH_SIZE
    for agency in agencies:
        point_agency_at(agency, server)
        queue(agency, per_agency)
        wake(agency.id)
    worker = start_worker(flask_env)
    try:
        # Most of the 3 agencies × 3 sessions open, and well into the batches.
        wait_for(lambda: server.connections.open >= 7 and len(server.handler.received) >= 150)
        open_at_kill = server.connections.open
    finally:
        stop([worker], signal.SIGKILL)
    assert len(server.handler.received) < len(agencies) * per_agency, "the kill came too late"
    assert statuses()["sending"] > 0

    after_lease = utcnow() + LEASE + timedelta(seconds=1)
    for agency in agencies:
        send_due(agency.id, now=after_lease)
    # The messages in flight at the kill are resent once, later (RFC 1047).
    for agency in agencies:
        send_due(agency.id, now=after_lease + UNKNOWN_RESEND_AFTER + timedelta(seconds=1))

    total = len(agencies) * per_agency
    assert statuses() == {"sent": total}
    delivered = server.delivered()
    assert len(delivered) == total, "nothing lost"
    # At most one message a session was with the server when it died.
    duplicates = sum(delivered.values()) - total
    assert duplicates <= open_at_kill
    assert set(delivered.values()) <= {1, 2}
