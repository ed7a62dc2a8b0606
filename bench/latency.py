"""Sending to servers a round trip away: every agency's server behind bench/latency_proxy.py, which
delays each reply of Postfix's smtp-sink by `--delay-ms` (40 ms: a provider in another city).

    .venv/bin/python bench/latency.py [--agencies 40] [--per-agency 50] [--backlog 1000]
                                      [--delay-ms 40] [--workers 2]

Three legs, each on a fresh site (SQLite WAL, private Redis) with `--workers` `flask worker`s
already waiting; the clock runs from the wake to the last row `sent`:

- loopback: agencies × per-agency straight to smtp-sink, the machine's own rate this run;
- many agencies: the same through the proxy, against min(loopback rate, agencies ÷ round trip),
  the most that working every server at once could give (target ≥ 0.5);
- one agency, a backlog: `--backlog` rows through the proxy, against the agency's connection
  cap ÷ round trip, the most its cap allows (target ≥ 0.8).

Each leg reports the peak resident memory of all workers together (sampled every 0.2 s) and the
most connections the proxy had open at once.
"""
import argparse
import time

from harness import (LatencyProxy, RssPeak, SmtpSink, bench_site, queue_rows, table, wait_until)

TIME_CAP = 300


def connection_cap(site) -> int:
    """The bench agency's connection cap, as the sender reads it (1 before the sender had one)."""
    try:
        from webapp.outbox.limits import connection_cap as cap_of
    except ImportError:
        return 1
    with site.app.app_context():
        return cap_of(site.agency_ids[0])


def leg(port: int, agencies: int, per_agency: int, workers: int, proxy: LatencyProxy | None) -> dict:
    total = agencies * per_agency
    with bench_site(port, agencies) as site:
        queue_rows(site, total, prefix="lat", wake=False)
        cap = connection_cap(site)
        site.start_workers(workers)
        site.wait_workers_ready()
        memory = RssPeak(site)
        started = time.perf_counter()
        site.wake_all()
        wait_until(lambda: site.count_status().get("sent", 0) >= total, timeout=TIME_CAP,
                   interval=0.05, what=f"{total} rows sent")
        seconds = time.perf_counter() - started
        peak_kib = memory.stop()
        statuses = site.count_status()
    return {"total": total, "seconds": seconds, "rate": total / seconds, "rss_mib": peak_kib / 1024,
            "cap": cap, "peak_connections": (proxy.stats().get("peak") if proxy else None),
            "not_sent": sum(n for status, n in statuses.items() if status != "sent")}


def run(args) -> str:
    sink = SmtpSink()
    rtt = args.delay_ms / 1000
    results = {}
    try:
        results["loopback"] = leg(sink.port, args.agencies, args.per_agency, args.workers, None)
        for name, agencies, per_agency in (("many", args.agencies, args.per_agency),
                                           ("one", 1, args.backlog)):
            import tempfile
            from pathlib import Path
            with tempfile.TemporaryDirectory(prefix="bench-proxy-") as directory:
                proxy = LatencyProxy(sink.port, args.delay_ms, Path(directory) / "stats.json")
                try:
                    results[name] = leg(proxy.port, agencies, per_agency, args.workers, proxy)
                finally:
                    proxy.stop()
    finally:
        sink.stop()
    loopback, many, one = results["loopback"], results["many"], results["one"]
    many_ceiling = min(loopback["rate"], args.agencies / rtt)
    one_ceiling = one["cap"] / rtt
    # The target's cap: the default a new agency gets (3) when the code measured had none.
    target_cap = max(one["cap"], 3)

    def row(what, result, ceiling, ceiling_text, target):
        return (what, f"{result['rate']:,.0f}", ceiling_text, f"{result['rate'] / ceiling:.2f}",
                target, f"{result['rss_mib']:.0f}", result["peak_connections"] or "—",
                result["not_sent"])

    rows = [
        row(f"loopback: {args.agencies} agencies × {args.per_agency}", loopback, loopback["rate"],
            "(the loopback rate of this run)", "—"),
        row(f"{args.agencies} agencies × {args.per_agency}, {args.delay_ms:g} ms away", many,
            many_ceiling, f"min(loopback {loopback['rate']:,.0f}, {args.agencies} ÷ "
            f"{args.delay_ms:g} ms = {args.agencies / rtt:,.0f}) = {many_ceiling:,.0f}", "≥ 0.5"),
        row(f"1 agency × {args.backlog:,}, {args.delay_ms:g} ms away (cap {one['cap']})", one,
            one_ceiling, f"cap {one['cap']} ÷ {args.delay_ms:g} ms = {one_ceiling:,.0f}", "≥ 0.8"),
    ]
    if target_cap != one["cap"]:
        rows.append((f"  the same against the default cap {target_cap}", f"{one['rate']:,.0f}",
                     f"{target_cap} ÷ {args.delay_ms:g} ms = {target_cap / rtt:,.0f}",
                     f"{one['rate'] * rtt / target_cap:.2f}", "≥ 0.8", "", "", ""))
    return table(f"Servers a round trip away ({args.workers} workers, smtp-sink behind "
                 f"bench/latency_proxy.py)", rows,
                 ("leg", "msg/s", "ceiling", "ratio", "target", "peak RSS of the workers, MiB",
                  "most connections at once", "not sent"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=40)
    parser.add_argument("--per-agency", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(run(args), flush=True)


if __name__ == "__main__":
    main()
