"""RQ queues, the Redis connection, the worker class, and how a job gets its app context."""
import functools
import threading

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue, SimpleWorker

# Every queue the workers listen on, in priority order: test emails and notifications first.
MAIL_QUEUE = "mail"
DEFAULT_QUEUE = "default"
QUEUE_NAMES = (MAIL_QUEUE, DEFAULT_QUEUE)

_worker_app = None
_stop_requested = threading.Event()


def redis_connection() -> Redis:
    return current_app.extensions["redis"]


def get_queue(name: str) -> Queue:
    return Queue(name, connection=redis_connection())


def all_queues() -> list[Queue]:
    return [get_queue(name) for name in QUEUE_NAMES]


class MailWorker(SimpleWorker):
    """The worker `flask worker` runs: RQ's SimpleWorker, which also lets the job it is running
    know that a warm shutdown (SIGTERM, Ctrl-C) was asked for."""

    def request_stop(self, signum, frame):
        _stop_requested.set()
        super().request_stop(signum, frame)


def stop_requested() -> bool:
    """True once this worker is shutting down: a long job stops at its next safe point (after a
    batch), so a deploy waits seconds, not for a whole job."""
    return _stop_requested.is_set()


def in_app_context(func):
    """Run a job inside an app context of its own, so each job gets a fresh database session.

    In `flask worker` (a SimpleWorker, in-process) the CLI's app is reused; a worker started
    another way builds the app once per process.
    """

    @functools.wraps(func)
    def job(*args, **kwargs):
        global _worker_app
        if has_app_context():
            app = current_app._get_current_object()
        else:
            if _worker_app is None:
                from webapp import create_app
                _worker_app = create_app()
            app = _worker_app
        with app.app_context():
            return func(*args, **kwargs)

    return job


@in_app_context
def send_outbox(agency_id: int) -> None:
    from webapp.outbox.sender import send_due
    send_due(agency_id)


@in_app_context
def run_test_email(run_id: str) -> None:
    from webapp.smtpcheck.service import execute_test_run
    execute_test_run(run_id)


@in_app_context
def run_troubleshooting(run_id: str) -> None:
    from webapp.troubleshoot.service import execute_run
    execute_run(run_id)


@in_app_context
def schedule_tick() -> dict:
    from webapp.schedule.service import tick
    return tick()


@in_app_context
def probe_sending(agency_id: int) -> bool:
    from webapp.outbox.probe import probe
    return probe(agency_id)


@in_app_context
def tell_admins_of_pause(agency_id: int) -> bool:
    from webapp.outbox.operator_notice import tell_admins
    return tell_admins(agency_id)


@in_app_context
def read_bounces(agency_id: int) -> dict:
    from dataclasses import asdict
    from webapp.bounces.service import read_bounces as read
    return asdict(read(agency_id))


@in_app_context
def queue_bounce_readings() -> int:
    from webapp.bounces.service import queue_readings
    return queue_readings()


@in_app_context
def run_mailbox_check(agency_id: int, check_id: str) -> None:
    from webapp.bounces.service import execute_check
    execute_check(agency_id, check_id)
