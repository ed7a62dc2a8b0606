"""How long one schedule tick takes with 1,000 due bookings among 10,000 and among 1,000,000: the
rules read only due rows through partial indexes, so the ratio should stay near 1 (target <= 3).

    .venv/bin/python bench/schedule_tick.py [--sizes 10000 1000000] [--due 1000] [--runs 3]

Uses a temporary SQLite file per size and a temporary redis-server; the project's Redis and
database are not touched.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.agencies.service import create_agency  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.jobs import redis_connection  # noqa: E402
from webapp.models import OutboxEmail  # noqa: E402
from webapp.models.types import utcnow  # noqa: E402
from webapp.schedule.service import apply_settings_changes, tick  # noqa: E402

CHUNK = 50_000
WARN_TO_MINUTES = 60
# SQLAlchemy's storage format for DateTime on SQLite (naive UTC, as UTCDateTime binds it).
STORED = "%Y-%m-%d %H:%M:%S.%f"
COLUMNS = ("agency_id", "number", "client_email", "client_name", "status", "paid",
           "payment_time_limit", "data_complete", "utc_offset_minutes", "revision",
           "change_summary", "warn_due_at", "created_at", "updated_at")


def start_redis(directory: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port",
         str(port), "--dir", directory, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    from redis import Redis
    for _ in range(100):
        try:
            Redis.from_url(url).ping()
            return process, url
        except Exception:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start")


def bookings(agency_id: int, total: int, due: int, now):
    """`due` bookings inside their warning window now, the rest due days later."""
    stamp = now.strftime(STORED)
    for i in range(total):
        if i < due:
            limit = now + timedelta(minutes=30)
        else:
            limit = now + timedelta(days=2, seconds=i)
        warn_due_at = limit - timedelta(minutes=WARN_TO_MINUTES)
        yield (agency_id, str(i), f"client{i}@example.org", "Клиент", "booked", 0,
               limit.strftime(STORED), 0, 180, 0, "", warn_due_at.strftime(STORED), stamp, stamp)


def measure(total: int, due: int, runs: int, workdir: str, redis_url: str) -> tuple[float, float]:
    """(median tick seconds, build seconds) for `total` bookings of which `due` are due."""
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench-{total}.sqlite",
        "REDIS_URL": redis_url, "SECRET_KEY": "bench",
        "MAIL_SECRET_KEYS": Fernet.generate_key().decode()})
    with app.app_context():
        redis_connection().flushdb()
        db.create_all()
        agency = create_agency("bench", "Bench")
        agency.mail_settings.warn_to_minutes = WARN_TO_MINUTES
        db.session.commit()
        now = utcnow()
        # Applied while the agency has no bookings, so the timed ticks see no settings change.
        apply_settings_changes(now)

        started = time.perf_counter()
        sql = (f"INSERT INTO booking_order ({', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in COLUMNS)})")
        rows = bookings(agency.id, total, due, now)
        connection = db.session.connection()
        while chunk := [row for _, row in zip(range(CHUNK), rows)]:
            connection.exec_driver_sql(sql, chunk)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        build = time.perf_counter() - started

        due_moment = (now - timedelta(minutes=WARN_TO_MINUTES - 30)).strftime(STORED)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            produced = tick(now)
            times.append(time.perf_counter() - started)
            assert produced["warn_time_limits"] == due, produced
            # Back to the state before the tick: the same rows due again, no emails, no wake flags.
            db.session.execute(db.delete(OutboxEmail))
            db.session.execute(db.text(
                "UPDATE booking_order SET warn_due_at = :due WHERE CAST(number AS INTEGER) < :n"),
                {"due": due_moment, "n": due})
            db.session.commit()
            for key in redis_connection().scan_iter("outbox:wake:*"):
                redis_connection().delete(key)
        db.session.remove()
        db.engine.dispose()
        return statistics.median(times), build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        redis, redis_url = start_redis(workdir)
        try:
            results = []
            for total in args.sizes:
                seconds, build = measure(total, args.due, args.runs, workdir, redis_url)
                results.append(seconds)
                print(f"{total:>9,} bookings, {args.due:,} due: tick {seconds * 1000:8.1f} ms "
                      f"(median of {args.runs}; built in {build:.1f} s)", flush=True)
                os.remove(f"{workdir}/bench-{total}.sqlite")
            print(f"ratio largest/smallest: {results[-1] / results[0]:.2f}")
        finally:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
