"""How long a sender's claim of one batch (100 rows) takes with 10,000 emails waiting and with
1,000,000: the claim reads its batch through the outbox's due index, so the ratio should stay
near 1 (target <= 3, as for the scheduler tick).

    .venv/bin/python bench/claim_backlog.py [--sizes 10000 1000000] [--claims 20]

Each size gets its own temporary SQLite file and redis-server (bench/harness.py); the backlog
is one agency's, the worst case, written by doubling 10,000 rows in SQL.
"""
import argparse
import statistics
import sys
import time

from harness import bench_site, queue_rows, table

SEED_ROWS = 10_000


def grow_backlog(site, size: int) -> None:
    """Copy the outbox onto itself (fresh dedupe keys) until it holds `size` rows."""
    from webapp.extensions import db
    queue_rows(site, min(size, SEED_ROWS), prefix="seed", wake=False)
    with site.app.app_context():
        columns = ("agency_id, kind, to_address, language, context, status, status_reason, "
                   "attempts, next_attempt_at, resent_after_unknown, subject, last_reply, "
                   "created_at, updated_at")
        rows = SEED_ROWS
        while rows < size:
            db.session.execute(db.text(
                f"INSERT INTO outbox_email (dedupe_key, {columns}) "
                f"SELECT dedupe_key || ':' || :copy, {columns} FROM outbox_email LIMIT :count"),
                {"copy": rows, "count": min(rows, size - rows)})
            rows += min(rows, size - rows)
        db.session.commit()
        db.session.remove()


def claim_times(site, claims: int) -> list[float]:
    from webapp.extensions import db
    from webapp.models.types import utcnow
    from webapp.outbox.sender import BATCH_SIZE, claim_due
    seconds = []
    with site.app.app_context():
        for _ in range(claims + 2):  # the first two warm the caches and are not counted
            started = time.perf_counter()
            rows = claim_due(site.agency_ids[0], now=utcnow())
            seconds.append(time.perf_counter() - started)
            assert len(rows) == BATCH_SIZE, len(rows)
            db.session.expunge_all()
        db.session.remove()
    return seconds[2:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(10_000, 1_000_000))
    parser.add_argument("--claims", type=int, default=20)
    args = parser.parse_args()
    medians = {}
    for size in args.sizes:
        with bench_site(smtp_port=2525) as site:
            started = time.monotonic()
            grow_backlog(site, size)
            built = time.monotonic() - started
            medians[size] = statistics.median(claim_times(site, args.claims))
            print(f"{size:,} waiting (written in {built:.0f} s): a claim takes "
                  f"{medians[size] * 1000:.1f} ms (median of {args.claims})", flush=True)
    small, large = args.sizes
    print(table("Claiming a batch of 100 as the backlog grows", [
        (f"{small:,}", f"{medians[small] * 1000:.1f} ms", "1.00"),
        (f"{large:,}", f"{medians[large] * 1000:.1f} ms", f"{medians[large] / medians[small]:.2f}"),
    ], ("emails waiting", "one claim (median)", "ratio (target ≤ 3)")), flush=True)


if __name__ == "__main__":
    sys.exit(main())
