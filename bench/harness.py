"""Shared bench plumbing: a private Redis, a temporary SQLite app with agencies pointed at a sink,
Postfix's smtp-sink, `flask worker` processes, bounded waits and the result table."""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from redis import Redis  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.agencies.service import create_agency  # noqa: E402
from webapp.api.service import issue_token  # noqa: E402
from webapp.extensions import db  # noqa: E402

FLASK = str(Path(sys.executable).parent / "flask")
SECRET_KEY = "bench-secret"
MAIL_SECRET_KEYS = Fernet.generate_key().decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `condition` until it returns something truthy; every bench loop is bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


class RedisServer:
    """A private redis-server on a free loopback port, append-only as production runs it, so a
    restart keeps the queues."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: run ./bench, which installs it"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
             "--maxmemory-policy", "noeviction", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL)
        client = Redis(port=self.port)

        def answers():
            with contextlib.suppress(Exception):
                return client.ping()
        wait_until(answers, timeout=10, what="redis-server start")

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class SmtpSink:
    """Postfix's smtp-sink (C): accepts every message and throws it away, as fast as loopback goes."""

    def __init__(self):
        binary = shutil.which("smtp-sink")
        assert binary, "smtp-sink is missing: apt-get install postfix (./bench does it)"
        self.port = free_port()
        # -u: smtp-sink refuses to run as root without a user to drop to; 256: listen backlog.
        self.process = subprocess.Popen(
            [binary, "-u", "nobody", f"127.0.0.1:{self.port}", "256"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: accepts(self.port), timeout=10, what="smtp-sink start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@dataclass
class BenchSite:
    """The app on a temporary SQLite file (WAL) and a private Redis, with agencies whose mail
    settings point at a loopback SMTP server; `env` runs `flask` subprocesses against the same."""

    workdir: Path
    redis: RedisServer
    app: object = None
    agency_ids: list[int] = field(default_factory=list)
    tokens: dict[int, str] = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'bench.sqlite'}"

    def setup(self, smtp_port: int, agencies: int = 1) -> None:
        self.app = create_app({
            "SQLALCHEMY_DATABASE_URI": self.database_url, "REDIS_URL": self.redis.url,
            "SECRET_KEY": SECRET_KEY, "MAIL_SECRET_KEYS": MAIL_SECRET_KEYS,
            "MAIL_ALLOW_PRIVATE_HOSTS": True, "MAIL_EHLO_NAME": "bench.example.net",
            "PUBLIC_URL": "https://booking.example.net",
            # Staff sign-in is not what is measured: a cheap hash, as the tests use.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        })
        self.env = dict(os.environ, FLASK_APP="wsgi", DATABASE_URL=self.database_url,
                        REDIS_URL=self.redis.url, SECRET_KEY=SECRET_KEY,
                        MAIL_SECRET_KEYS=MAIL_SECRET_KEYS, MAIL_ALLOW_PRIVATE_HOSTS="1",
                        MAIL_EHLO_NAME="bench.example.net")
        with self.app.app_context():
            db.create_all()
            for number in range(agencies):
                agency = create_agency(f"agency-{number}", f"Агентство «{number}»",
                                       f"office@agency-{number}.example")
                settings = agency.mail_settings
                settings.host, settings.port, settings.security = "127.0.0.1", smtp_port, "none"
                settings.sender_address = f"office@agency-{number}.example"
                settings.sender_name = f"Агентство «{number}»"
                db.session.commit()
                self.agency_ids.append(agency.id)
                self.tokens[agency.id] = issue_token(agency.id)

    def start_workers(self, count: int, *options: str) -> None:
        """`count` `flask worker` processes, each in its own process group so a kill takes its
        children too."""
        command = [FLASK, "worker", *options]
        for _ in range(count):
            self.workers.append(subprocess.Popen(
                command, env=self.env, cwd=ROOT, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def wait_workers_ready(self, timeout: float = 60) -> None:
        """Until every started worker has registered with Redis and waits for jobs, so a timed
        leg measures the sending, not Python starting up."""
        from rq import Worker
        connection = Redis.from_url(self.redis.url)
        wait_until(lambda: Worker.count(connection=connection) >= len(self.workers),
                   timeout=timeout, what=f"{len(self.workers)} workers ready")

    def wake_all(self) -> None:
        from webapp.outbox.service import wake
        with self.app.app_context():
            for agency_id in self.agency_ids:
                wake(agency_id)

    def restart_worker(self, index: int, *options: str) -> None:
        """Kill a worker's whole process group with SIGKILL, as an OOM killer or a lost machine
        would, and start a fresh one in its place."""
        self.kill_worker(index)
        self.start_workers(1, *options)
        self.workers[index] = self.workers.pop()

    def kill_worker(self, index: int, sig: int = signal.SIGKILL) -> None:
        worker = self.workers[index]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, sig)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)

    def stop_workers(self) -> None:
        for index in range(len(self.workers)):
            self.kill_worker(index, signal.SIGTERM)
        self.workers.clear()

    def count_status(self) -> dict[str, int]:
        with self.app.app_context():
            rows = db.session.execute(db.text(
                "SELECT status, COUNT(*) FROM outbox_email GROUP BY status")).all()
            db.session.remove()
        return dict(rows)


@contextlib.contextmanager
def bench_site(smtp_port: int, agencies: int = 1):
    """A BenchSite in a temporary directory, torn down (workers, Redis, files) on the way out."""
    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        workdir = Path(directory)
        (workdir / "redis").mkdir()
        site = BenchSite(workdir, RedisServer(workdir / "redis"))
        try:
            site.setup(smtp_port, agencies)
            yield site
        finally:
            site.stop_workers()
            site.redis.stop()


# gunicorn loads this module: the project's wsgi app plus one endpoint that does nothing, the
# yardstick of the web benchmark (it pays the same middleware, session and security headers).
BENCH_WSGI = """
from wsgi import app
app.add_url_rule("/bench/bare", "bench_bare", lambda: "ok")
"""


@contextlib.contextmanager
def gunicorn(site: BenchSite):
    """The site served by gunicorn as production serves it (gunicorn.conf.py: gthread, its
    threads, the access log), in one process: on 2 cores wrk needs the other, and with two
    processes the result would depend on how wrk's kept-alive connections happened to be
    accepted (one process can take them all). Yields the base URL."""
    (site.workdir / "bench_wsgi.py").write_text(BENCH_WSGI)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
         "--pythonpath", f"{ROOT},{site.workdir}", "bench_wsgi:app"],
        env=site.env | {"WEB_PROCESSES": "1"}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: accepts(port), timeout=30, what="gunicorn start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def signed_in_admin(site: BenchSite) -> tuple[str, str]:
    """A new admin of the first agency signed in as a browser does: (session cookie, CSRF token)."""
    from webapp.auth.service import create_user
    from webapp.models import Agency
    password = "bench password 1"
    with site.app.app_context():
        agency = db.session.get(Agency, site.agency_ids[0])
        create_user(agency, "admin@agency-0.example", password, is_admin=True)
    client = site.app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/sign-in").get_data(as_text=True)).group(1)
    response = client.post("/sign-in", data={"email": "admin@agency-0.example",
                                             "password": password, "csrf_token": token})
    assert response.status_code == 302, "sign-in failed"
    page = client.get("/mail-settings").get_data(as_text=True)
    return (client.get_cookie("session").value,
            re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1))


def post_registrations(site: BenchSite, count: int, *, prefix: str = "client") -> float:
    """POST `count` registrations through the real API (Flask's test client: routing, token,
    validation, idempotency, the booking service, the outbox and the wake, without a socket),
    spread over the agencies; returns the seconds it took."""
    client = site.app.test_client()
    agencies = site.agency_ids
    started = time.perf_counter()
    for number in range(count):
        agency_id = agencies[number % len(agencies)]
        response = client.post(
            "/api/v1/registrations",
            json={"login": f"{prefix}{number}", "email": f"{prefix}{number}@example.org",
                  "name": "Анна Петрова"},
            headers={"Authorization": f"Bearer {site.tokens[agency_id]}",
                     "Idempotency-Key": f"{prefix}-{number}"})
        assert response.status_code == 201, response.get_data(as_text=True)
    return time.perf_counter() - started


def post_registration_batches(site: BenchSite, count: int, *, prefix: str = "client",
                              batch: int = 500) -> float:
    """POST `count` registrations through /api/v1/registrations/batch, `batch` a request, each
    request to the next agency; returns the seconds it took."""
    client = site.app.test_client()
    agencies = site.agency_ids
    started = time.perf_counter()
    for request_number, first in enumerate(range(0, count, batch)):
        agency_id = agencies[request_number % len(agencies)]
        registrations = [{"login": f"{prefix}{number}", "email": f"{prefix}{number}@example.org",
                          "name": "Анна Петрова"} for number in range(first, min(first + batch, count))]
        response = client.post(
            "/api/v1/registrations/batch", json={"registrations": registrations},
            headers={"Authorization": f"Bearer {site.tokens[agency_id]}",
                     "Idempotency-Key": f"{prefix}-batch-{request_number}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert {result["code"] for result in response.json["results"]} == {201}
    return time.perf_counter() - started


def queue_rows(site: BenchSite, count: int, *, prefix: str = "client", wake: bool = True) -> None:
    """Write `count` registration confirmations straight into the outbox, a thousand per
    transaction, spread over the agencies, then wake each agency (unless `wake` is False):
    for runs about sending."""
    from webapp.notification_kinds import REGISTRATION_CONFIRMATION, sample_context
    from webapp.outbox.service import queue_email
    context = sample_context(REGISTRATION_CONFIRMATION) | {"client_name": "Анна Петрова"}
    agencies = site.agency_ids
    with site.app.app_context():
        for number in range(count):
            queue_email(agencies[number % len(agencies)], REGISTRATION_CONFIRMATION,
                        f"{prefix}{number}@example.org", context, f"{prefix}:{number}")
            if number % 1000 == 999:
                db.session.commit()
        db.session.commit()
    if wake:
        site.wake_all()


def table(title: str, rows: list[tuple], headers: tuple) -> str:
    """A Markdown table, so the output pastes into docs/PERFORMANCE.md as it is."""
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |",
             "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class LatencyProxy:
    """bench/latency_proxy.py in front of a server's port: every reply `delay_ms` late."""

    def __init__(self, upstream_port: int, delay_ms: float, stats_path: Path):
        self.port, self.stats_path = free_port(), stats_path
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "latency_proxy.py"), str(self.port),
             str(upstream_port), "--delay-ms", str(delay_ms), "--stats", str(stats_path)])
        wait_until(lambda: accepts(self.port), timeout=10, what="latency proxy start")

    def stats(self) -> dict:
        import json
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self.stats_path.read_text())
        return {}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants (KiB), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class RssPeak:
    """Samples the workers' resident memory (all of them together) every 0.2 s in a thread."""

    def __init__(self, site: "BenchSite"):
        import threading
        self.site, self.peak_kib = site, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kib = max(self.peak_kib,
                                sum(tree_rss_kib(worker.pid) for worker in self.site.workers))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib
