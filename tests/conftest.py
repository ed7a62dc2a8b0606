"""Shared fixtures: a real redis-server per session, an app on its own SQLite file per test (or
on the emptied PostgreSQL database of TEST_DATABASE_URL), agencies and staff, a signed-in client,
an in-process RQ worker."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import MetaData

from webapp import create_app
from webapp.agencies.service import create_agency
from webapp.auth.service import create_user
from webapp.extensions import db
from webapp.jobs import all_queues, redis_connection

pytest_plugins = ["fixtures_smtp", "fixtures_dns", "api_fixtures", "fixtures_imap"]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(directory, *settings: str) -> tuple[subprocess.Popen, str]:
    """Start a private redis-server on a free loopback port; returns the process and its URL."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run ./test, which installs it"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
         "--loglevel", "warning", *settings],
        stdout=subprocess.DEVNULL)
    client = Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for the whole run, set up as production should be (an append-only
    file, no eviction), so pages show no Redis warning."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"), "--save", "",
                               "--appendonly", "yes", "--appendfsync", "no")
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def app_config(tmp_path, redis_url):
    """The configuration of the test app; a test may change it before asking for `app`."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("TEST_DATABASE_URL")
        or f"sqlite:///{tmp_path / 'test.sqlite'}",
        "REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "MAIL_SECRET_KEYS": Fernet.generate_key().decode(),
        "MAIL_ALLOW_PRIVATE_HOSTS": True,
        "MAIL_CATCHER_DIR": str(tmp_path / "caught"),
        # Staff passwords: a cheap hash keeps hundreds of sign-ins fast; production keeps scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def empty_database() -> None:
    """Drop every table, also those only a migration makes (alembic_version): TEST_DATABASE_URL
    is one PostgreSQL database shared by all the tests."""
    db.session.remove()
    with db.engine.begin() as connection:
        tables = MetaData()
        tables.reflect(connection)
        tables.drop_all(connection)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        empty_database()
        db.create_all()
        redis_connection().flushdb()
        yield app
        empty_database()
        # Each test's app has its own engine: close its pooled connections, or PostgreSQL runs
        # out of them after a few hundred tests.
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_agency(app):
    def make(slug="alpha", name=None, email=None):
        return create_agency(slug, name or slug.title(), email or f"office@{slug}.example")
    return make


@pytest.fixture
def make_user(app):
    def make(agency, email=None, admin=True, password=PASSWORD):
        return create_user(agency, email or f"admin@{agency.slug}.example", password,
                           is_admin=admin)
    return make


def sign_in(client, user, password=PASSWORD):
    response = client.post("/sign-in", data={"email": user.email, "password": password})
    assert response.status_code == 302, "sign-in failed"
    return response


@pytest.fixture
def agency(make_agency):
    return make_agency("alpha")


@pytest.fixture
def admin(make_user, agency):
    return make_user(agency)


@pytest.fixture
def admin_client(client, admin):
    sign_in(client, admin)
    return client


@pytest.fixture
def run_worker(app):
    """Drain the queues with a real RQ worker in this process, as `flask worker --burst` does."""
    def run():
        worker = SimpleWorker(all_queues(), connection=redis_connection())
        worker.work(burst=True, with_scheduler=False)
        return worker
    return run


@pytest.fixture
def flask_env(app_config, tmp_path):
    """Environment for running `flask` as a subprocess against the test database and Redis."""
    env = dict(os.environ)
    env.update({
        "FLASK_APP": "wsgi",
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app_config["REDIS_URL"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "MAIL_SECRET_KEYS": app_config["MAIL_SECRET_KEYS"],
        "MAIL_ALLOW_PRIVATE_HOSTS": "1",
    })
    return env



def flask_cli(env, *args, timeout=60):
    """Run `flask ARGS` as an operator would, in its own process."""
    return subprocess.run([str(Path(sys.executable).parent / "flask"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free port, for the browser (threaded, so SSE streams
    do not block other requests)."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download is possible here)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab (its own cookies), in Russian like a default user."""
    context = browser.new_context(base_url=live_server, locale="ru-RU")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def browser_sign_in(page, user, password=PASSWORD):
    page.goto("/sign-in")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")


@pytest.fixture
def background_worker(flask_env):
    """A real `flask worker` process (with RQ's scheduler) for tests that drive the site live."""
    process = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "worker"],
                               env=flask_env, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
