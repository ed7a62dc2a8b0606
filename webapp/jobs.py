"""RQ queues, the Redis connection, the worker class, and how a job gets its app context."""
import functools
import threading

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus

# Every queue the workers listen on, in priority order: test emails and notifications first.
MAIL_QUEUE = "mail"
DEFAULT_QUEUE = "default"
QUEUE_NAMES = (MAIL_QUEUE, DEFAULT_QUEUE)

# Jobs one worker process runs at once, each in a thread: a send job spends its time waiting
# for a mail server's replies (20-100 ms a round trip against real providers), so one process
# keeps many servers busy. Each send job runs up to its agency's connection cap of sessions.
JOB_THREADS = 32

_worker_app = None
_stop_requested = threading.Event()


def redis_connection() -> Redis:
    return current_app.extensions["redis"]


def get_queue(name: str) -> Queue:
    return Queue(name, connection=redis_connection())


def all_queues() -> list[Queue]:
    return [get_queue(name) for name in QUEUE_NAMES]


class MailWorker(SimpleWorker):
    """The worker `flask worker` runs: RQ's SimpleWorker running up to JOB_THREADS jobs at once,
    each in a thread of this process (RQ dequeues, records and times them as usual), which also
    lets its jobs know that a warm shutdown (SIGTERM, Ctrl-C) was asked for; it then waits for
    the jobs under way before it leaves."""

    # RQ's default timeout uses SIGALRM, which only the main thread can receive.
    death_penalty_class = TimerDeathPenalty
    job_threads = JOB_THREADS

    def __init__(self, *args, **kwargs):
        self._local = threading.local()
        self._running: set[threading.Thread] = set()
        self._running_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.job_threads)
        self._handing_over = False
        super().__init__(*args, **kwargs)

    # RQ keeps the job being run (its execution) on the worker: one per thread here.
    @property
    def execution(self):
        return getattr(self._local, "execution", None)

    @execution.setter
    def execution(self, value):
        self._local.execution = value

    def _shutdown(self):
        # The main thread waits for the next job (a blocking pop of up to minutes) while the
        # jobs run in their threads: it stops waiting at once; teardown waits for the jobs. Not
        # while it hands a job it has just taken to a thread, which must not be lost.
        if self.get_state() == WorkerStatus.BUSY and not self._handing_over:
            self._stop_requested = True
            self.set_shutdown_requested_date()
            if self.scheduler:
                self.stop_scheduler()
            raise StopRequested()
        super()._shutdown()

    def execute_job(self, job, queue):
        self._handing_over = True
        try:
            self._start_job(job, queue)
        finally:
            self._handing_over = False

    def _start_job(self, job, queue):
        while not self._slots.acquire(timeout=self.dequeue_timeout or 60):
            self.heartbeat()  # every thread busy: stay registered while waiting for one
        thread = threading.Thread(target=self._run_job, args=(job, queue), daemon=True,
                                  name=f"rq-job-{job.id}")
        with self._running_lock:
            self._running.add(thread)
        thread.start()

    def _run_job(self, job, queue):
        try:
            self.prepare_execution(job)
            self.perform_job(job, queue)
        finally:
            with self._running_lock:
                self._running.discard(threading.current_thread())
                idle = not self._running
            self._slots.release()
            if idle:
                self.set_state(WorkerStatus.IDLE)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        while True:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            if result is not None or timeout is not None:
                return result
            # --burst and the queues are empty, but a job under way may still queue another
            # (a send job wakes its agency when more is due): wait for one to end, look again.
            with self._running_lock:
                running = list(self._running)
            if not running:
                return None
            running[0].join()

    def get_state(self):
        # Busy while any job runs, so a warm shutdown waits for them (RQ's _shutdown asks).
        with self._running_lock:
            return WorkerStatus.BUSY if self._running else super().get_state()

    def teardown(self):
        """Before the worker leaves (a warm shutdown, or --burst drained the queues): the jobs
        under way finish their batches (they stop early once stop_requested())."""
        while True:
            with self._running_lock:
                running = list(self._running)
            if not running:
                break
            for thread in running:
                thread.join()
        super().teardown()

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
