"""Notifications per second from API events to Postfix's smtp-sink, against a bare smtplib loop
and smtp-source (C) measured in the same run.

    .venv/bin/python bench/throughput.py [--count 10000] [--api-count 300] [--agencies 4]
                                         [--workers 2]

The API goes through Flask's test client in this process (routing, token, validation,
idempotency, booking service, outbox insert, wake); `--workers` `flask worker` processes (RQ
SimpleWorkers, one per core by default) render, send and record. Three legs, each a ratio of the
baselines: the sending leg alone (rows already in the outbox, from the wake to the last `sent`),
the whole pipeline (`--count` registrations posted 500 a request to /registrations/batch, from
the first POST to the last row `sent`), and the API one request an event (`--api-count`
registrations to /registrations, beside the workers sending them).
"""
import argparse
import shutil
import smtplib
import subprocess
import time

from harness import (SmtpSink, bench_site, post_registration_batches, post_registrations, queue_rows,
                     table, wait_until)

from webapp.extensions import db
from webapp.mailsettings.service import smtp_settings_for
from webapp.mailtemplates.render import render_email
from webapp.notification_kinds import REGISTRATION_CONFIRMATION
from webapp.smtpcheck.message import compose_message

TIME_CAP = 300  # seconds for any one leg: a stalled pipeline fails the run, never hangs it


def sample_messages(site, count: int) -> list[bytes]:
    """`count` messages as the pipeline builds them, serialised before the clock starts."""
    agency_id = site.agency_ids[0]
    with site.app.app_context():
        settings = smtp_settings_for(agency_id)
        messages = []
        for number in range(count):
            rendered = render_email(agency_id, REGISTRATION_CONFIRMATION, "ru", {
                "client_name": "Анна Петрова", "login": f"base{number}", "expiry_minutes": None,
                "confirm_url": f"https://booking.example.net/confirm/{number:040d}"})
            message = compose_message(settings, f"base{number}@example.org", rendered.subject,
                                      rendered.text, rendered.html)
            messages.append(message.as_bytes())
    return messages


def smtplib_loop(port: int, messages: list[bytes]) -> float:
    """Seconds for smtplib to send pre-built messages over one connection."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example.net") as client:
        for number, message in enumerate(messages):
            client.sendmail("office@agency-0.example", [f"base{number}@example.org"], message)
    return time.perf_counter() - started


def smtp_source(port: int, count: int, size: int, connections: int = 4) -> float:
    """Seconds for Postfix's smtp-source (C) to send `count` messages of `size` bytes."""
    binary = shutil.which("smtp-source")
    assert binary, "smtp-source is missing: apt-get install postfix (./bench does it)"
    started = time.perf_counter()
    subprocess.run([binary, "-s", str(connections), "-m", str(count), "-l", str(size),
                    "-f", "office@agency-0.example", "-t", "client@example.org",
                    f"127.0.0.1:{port}"], check=True, timeout=TIME_CAP)
    return time.perf_counter() - started


def wait_sent(site, count: int) -> None:
    wait_until(lambda: site.count_status().get("sent", 0) >= count, timeout=TIME_CAP,
               interval=0.1, what=f"{count} rows sent")


def run(count: int, api_count: int, agencies: int, workers: int) -> dict:
    sink = SmtpSink()
    try:
        with bench_site(sink.port, agencies) as site:
            messages = sample_messages(site, count)
            size = sum(map(len, messages)) // len(messages)
            bare = smtplib_loop(sink.port, messages)
            ceiling = smtp_source(sink.port, count, size)

            # The sending leg: rows already in the outbox, workers started and waiting; the clock
            # runs from the wake to the last row sent.
            queue_rows(site, count, prefix="queued", wake=False)
            site.start_workers(workers)
            site.wait_workers_ready()
            started = time.perf_counter()
            site.wake_all()
            wait_sent(site, count)
            sending = time.perf_counter() - started

            # The whole pipeline: workers already waiting, the events arrive, the clock runs from
            # the first POST to the last row sent.
            started = time.perf_counter()
            batches = post_registration_batches(site, count, prefix="live")
            wait_sent(site, 2 * count)
            pipeline = time.perf_counter() - started

            # The API one request an event, for comparison: what a busy engine pays without batches.
            api = post_registrations(site, api_count, prefix="single")
            wait_sent(site, 2 * count + api_count)
            with site.app.app_context():
                failed = db.session.execute(db.text(
                    "SELECT COUNT(*) FROM outbox_email WHERE status != 'sent'")).scalar()
    finally:
        sink.stop()
    return {"count": count, "api_count": api_count, "size": size, "bare": bare,
            "ceiling": ceiling, "api": api, "batches": batches, "sending": sending,
            "pipeline": pipeline,
            "not_sent": failed}


def report(result: dict, workers: int) -> str:
    count = result["count"]
    rate = {name: count / result[name] for name in ("bare", "ceiling", "sending", "batches", "pipeline")}
    rate["api"] = result["api_count"] / result["api"]

    def row(path: str, name: str, ratio: str = "") -> tuple:
        return (path, f"{rate[name]:,.0f}", f"{rate[name] / rate['ceiling']:.2f}", ratio)

    def against_bare(name: str) -> str:
        return f"{rate[name] / rate['bare']:.2f}× bare (target ≥ 1.0)"

    rows = [
        row("smtp-source (C), 4 connections", "ceiling", "ceiling"),
        row("bare smtplib loop, 1 connection, pre-built", "bare", "baseline"),
        row(f"sending leg: RQ → render → SMTP → status, {workers} workers", "sending",
            against_bare("sending")),
        row(f"whole pipeline: {count:,} events, 500 a request → … → status, {workers} workers",
            "pipeline", against_bare("pipeline")),
        row("  of which the API (batches, test client, beside the workers)", "batches"),
        row(f"API one request an event ({result['api_count']:,}, beside the workers)", "api"),
    ]
    title = (f"Throughput: {count:,} notifications of {result['size']:,} bytes, SQLite WAL "
             f"(rows not sent at the end: {result['not_sent']})")
    return table(title, rows, ("path", "msg/s", "of smtp-source (target ≥ 0.10)", "ratio"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--api-count", type=int, default=300)
    parser.add_argument("--agencies", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    result = run(args.count, args.api_count, args.agencies, args.workers)
    print(report(result, args.workers), flush=True)


if __name__ == "__main__":
    main()
