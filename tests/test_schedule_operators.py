"""What operators run and see: `flask schedule tick|status`, the schedule page, `rq cron` enqueuing
the tick, a real worker running it, and the benchmark's smoke run."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from rq.cron import CronScheduler

from api_fixtures import outbox
from conftest import ROOT, flask_cli, sign_in
from webapp.bookings.service import create_order
from webapp.extensions import db
from webapp.jobs import DEFAULT_QUEUE, get_queue, redis_connection, schedule_tick
from webapp.models.types import utcnow
from webapp.notification_kinds import TIME_LIMIT_WARNING
from webapp.schedule.service import tick


def order_in_its_warning_window(agency):
    agency.mail_settings.warn_to_minutes = 60
    db.session.commit()
    create_order(agency, "291205", "anna@example.org", "Анна", "booked", False, False,
                 payment_time_limit=utcnow() + timedelta(minutes=30))


def test_flask_schedule_tick_runs_every_rule_once_and_status_shows_it(agency, flask_env):
    order_in_its_warning_window(agency)

    never = flask_cli(flask_env, "schedule", "status")
    first = flask_cli(flask_env, "schedule", "tick")
    status = flask_cli(flask_env, "schedule", "status")

    assert "warn_time_limits: never run" in never.stdout
    assert first.returncode == 0, first.stderr
    assert "warn_time_limits: 1" in first.stdout and "expire_registrations: 0" in first.stdout
    assert len(outbox(TIME_LIMIT_WARNING)) == 1
    lines = status.stdout.splitlines()
    assert len(lines) == 6  # the four rules, the probe of paused sending, the documents' purge
    assert all("last tick" in line and " ms, produced " in line and "next run" in line
               for line in lines)


def test_the_schedule_page_shows_each_rules_last_tick(client, admin, agency):
    sign_in(client, admin)
    assert "Ещё не запускалось" in client.get("/schedule").text

    order_in_its_warning_window(agency)
    now = utcnow()
    tick(now)
    page = client.get("/schedule")

    assert page.status_code == 200
    for name in ("expire_registrations", "warn_time_limits", "notify_data_deadlines",
                 "sweep_outbox", "probe_paused_sending", "purge_documents"):
        assert f'id="rule-{name}"' in page.text
    assert page.text.count(f'data-last-tick="{now.isoformat()}"') == 6
    assert "Писем поставлено в очередь: 1" in page.text
    assert "Расписание" in client.get("/").text  # in the navigation


def test_staff_who_are_not_admins_do_not_see_the_schedule(client, make_user, agency):
    sign_in(client, make_user(agency, "clerk@alpha.example", admin=False))
    assert client.get("/schedule").status_code == 403


def test_rq_cron_config_registers_the_tick_every_minute():
    scheduler = CronScheduler(connection=None)
    scheduler.load_config_from_file("webapp.cron")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    assert jobs["webapp.jobs.schedule_tick"].interval == 60
    assert jobs["webapp.jobs.schedule_tick"].queue_name == DEFAULT_QUEUE


def test_the_tick_runs_as_a_job_on_a_real_worker(agency, run_worker):
    order_in_its_warning_window(agency)
    get_queue(DEFAULT_QUEUE).enqueue(schedule_tick)
    get_queue(DEFAULT_QUEUE).enqueue(schedule_tick)  # a second scheduler, or a restart

    run_worker()

    assert len(outbox(TIME_LIMIT_WARNING)) == 1
    assert redis_connection().hget("schedule:stats:warn_time_limits", "produced") == b"0"


def test_rq_cron_enqueues_the_tick_at_start(app_config, run_worker, agency):
    order_in_its_warning_window(agency)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "rq"), "cron", "webapp.cron", "-u",
         app_config["REDIS_URL"]], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not any(job.func_name == "webapp.jobs.schedule_tick"
                      for job in get_queue(DEFAULT_QUEUE).get_jobs()):
            assert time.monotonic() < deadline, "rq cron enqueued no tick"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)

    run_worker()

    assert len(outbox(TIME_LIMIT_WARNING)) == 1


def test_the_benchmark_runs_and_prints_the_ratio(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "schedule_tick.py"), "--sizes", "500", "2000",
         "--due", "20", "--runs", "1"], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "2,000 bookings, 20 due: tick" in result.stdout
    assert "ratio largest/smallest:" in result.stdout
