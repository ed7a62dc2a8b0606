"""Chaos run: notifications sent while workers are SIGKILLed every few seconds, Redis restarts
once and the server answers 10 % with 451 and drops 2 % of connections right after DATA; then
counts delivered, duplicated, lost and unknown from the database and the server's log.

    .venv/bin/python bench/chaos.py [--count 10000] [--kill-every 3] [--chaos-seconds 120]
                                    [--delay-ms 40]

The server is 40 ms away by default (bench/latency_proxy.py in front of the chaos sink), so a
kill lands while many sessions are open in the worker, each with a message in flight.

After the chaos phase the workers stop and this process plays the sweep and the passing of
time: `send_due(now=...)` two hours ahead, so expired leases, 451 retries and the one resend of
an unknown come due without waiting for them.
"""
import argparse
import collections
import subprocess
import sys
import time
from datetime import timedelta

import tempfile
from pathlib import Path

from harness import ROOT, LatencyProxy, bench_site, free_port, queue_rows, table, wait_until, accepts

from webapp.extensions import db
from webapp.models.types import utcnow
from webapp.outbox.sender import send_due
from webapp.outbox.service import abandoned_condition, due_condition, sweep
from webapp.models import OutboxEmail

SWEEP_EVERY = 5  # seconds; rq cron sweeps once a minute (the tick), the run has no time to wait for it
FINAL_ROUNDS = 30
LATER = timedelta(hours=2)  # past the longest backoff (1 h +20 %), the lease and the unknown delay


def start_sink(port: int, log_path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "chaos_sink.py"), str(port),
                                str(log_path)])
    wait_until(lambda: accepts(port), timeout=10, what="chaos sink start")
    return process


def chaos_phase(site, count: int, kill_every: float, seconds: float) -> dict:
    """Workers send while they are killed in turn; Redis restarts once, a third of the way."""
    events = collections.Counter()
    site.start_workers(2)
    queue_rows(site, count)
    started = time.monotonic()
    next_kill, next_sweep, redis_restarted = started + kill_every, started + SWEEP_EVERY, False
    while time.monotonic() - started < seconds:
        time.sleep(0.2)
        now = time.monotonic()
        if now >= next_kill:
            site.restart_worker(events["kills"] % len(site.workers))
            events["kills"] += 1
            next_kill = now + kill_every
        if not redis_restarted and now - started > seconds / 3:
            site.redis.restart()
            redis_restarted, events["redis restarts"] = True, 1
        for index, worker in enumerate(site.workers):
            if worker.poll() is not None:  # a worker that died of the Redis restart
                site.restart_worker(index)
                events["workers restarted after exiting"] += 1
        if now >= next_sweep:
            with site.app.app_context():
                sweep()
                db.session.remove()
            next_sweep = now + SWEEP_EVERY
        statuses = site.count_status()
        if statuses.get("queued", 0) + statuses.get("sending", 0) == 0:
            break
    events["chaos seconds"] = round(time.monotonic() - started)
    site.stop_workers()
    return events


def final_phase(site) -> int:
    """Send what is still due once time has passed; returns the rounds it took. A round can
    queue rows for later (a dead worker's message in flight waits 10 min), so it stops only
    when nothing would be due by the next round either."""
    later = utcnow() + LATER
    with site.app.app_context():
        for rounds in range(1, FINAL_ROUNDS + 1):
            for agency_id in site.agency_ids:
                send_due(agency_id, now=later)
            later += LATER
            waiting = db.session.execute(
                db.select(db.func.count()).select_from(OutboxEmail).where(
                    db.or_(due_condition(later), abandoned_condition(later)))).scalar()
            if not waiting:
                return rounds
    return FINAL_ROUNDS


def tally(site, log_path) -> tuple[dict, dict]:
    deliveries, drops = collections.Counter(), collections.Counter()
    for line in log_path.read_text(encoding="utf-8").splitlines():
        outcome, to, _message_id = line.split("\t")
        if outcome != "451":  # a dropped connection after DATA still delivered the message
            deliveries[to] += 1
        if outcome == "drop":
            drops[to] += 1
    with site.app.app_context():
        rows = db.session.execute(db.select(OutboxEmail.to_address, OutboxEmail.status)).all()
    statuses = collections.Counter(status for _, status in rows)
    duplicated = {to: n - 1 for to, n in deliveries.items() if n > 1}
    explained = sum(min(extra, drops[to]) for to, extra in duplicated.items())
    result = {
        "rows": len(rows),
        "delivered (distinct notifications)": sum(1 for to, _ in rows if deliveries[to]),
        "duplicated (extra copies)": sum(duplicated.values()),
        "  of which after a post-DATA drop": explained,
        "  of which after a SIGKILL with the message in flight": sum(duplicated.values()) - explained,
        "lost (never delivered)": sum(1 for to, _ in rows if not deliveries[to]),
        "unknown (status left unknown)": statuses.get("unknown", 0),
        "dropped connections after DATA": sum(drops.values()),
    }
    return result, dict(statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--kill-every", type=float, default=3.0)
    parser.add_argument("--chaos-seconds", type=float, default=120.0)
    parser.add_argument("--delay-ms", type=float, default=40.0,
                        help="the server's replies this late (bench/latency_proxy.py); 0: direct")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as directory:
        log_path = Path(directory) / "deliveries.log"
        sink_port = free_port()
        sink = start_sink(sink_port, log_path)
        proxy = (LatencyProxy(sink_port, args.delay_ms, Path(directory) / "proxy.json")
                 if args.delay_ms else None)
        try:
            with bench_site(proxy.port if proxy else sink_port, agencies=4) as site:
                events = chaos_phase(site, args.count, args.kill_every, args.chaos_seconds)
                if proxy:
                    events["most connections open at once (proxy)"] = proxy.stats().get("peak")
                rounds = final_phase(site)
                result, statuses = tally(site, log_path)
        finally:
            if proxy:
                proxy.stop()
            sink.terminate()
            sink.wait(10)
    rows = [(name, value) for name, value in {**events, "final rounds": rounds}.items()]
    rows += [(name, value) for name, value in result.items()]
    rows.append(("statuses at the end", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))))
    verdict = "PASS" if result["lost (never delivered)"] == 0 else "FAIL"
    away = f", every reply {args.delay_ms:g} ms late" if args.delay_ms else ""
    print(table(f"Chaos: {args.count:,} notifications{away} — {verdict} (target: 0 lost)", rows,
                ("what", "count")), flush=True)


if __name__ == "__main__":
    main()
