"""Test-email latency: from the click's POST to the first streamed step and to the end of the
stream, against Postfix's smtp-sink, compared with one bare smtplib session to the same sink.

    .venv/bin/python bench/test_email_latency.py [--runs 5]

The site runs in gunicorn with one `flask worker`, as ./run does; the stream is read over HTTP
as the browser's EventSource reads it. Runs stay under the hourly test-email limit (10).
"""
import argparse
import re
import smtplib
import statistics
import time
import urllib.request

from harness import SmtpSink, bench_site, gunicorn, signed_in_admin, table

STREAM_TIMEOUT = 30


def bare_session(port: int) -> float:
    """Seconds for smtplib to connect, greet, send one small message and quit."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example.net", timeout=10) as client:
        client.sendmail("office@agency-0.example", ["office@agency-0.example"],
                        b"Subject: test\r\n\r\nbench\r\n")
    return time.perf_counter() - started


def one_run(base: str, cookie: str, token: str) -> tuple[float, float]:
    """(seconds to the first step, seconds to the end) of one test email, from the POST."""
    headers = {"Cookie": f"session={cookie}", "X-CSRFToken": token, "HX-Request": "true"}
    started = time.perf_counter()
    request = urllib.request.Request(f"{base}/mail-settings/test", data=b"", headers=headers)
    fragment = urllib.request.urlopen(request, timeout=STREAM_TIMEOUT).read().decode()
    stream_url = re.search(r'sse-connect="([^"]+)"', fragment).group(1)
    first_step = None
    stream = urllib.request.urlopen(urllib.request.Request(base + stream_url, headers=headers),
                                    timeout=STREAM_TIMEOUT)
    for line in stream:
        if line.startswith(b"event: step") and first_step is None:
            first_step = time.perf_counter() - started
        if line.startswith(b"event: done"):
            break
    assert first_step is not None, "the stream ended without a step"
    return first_step, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sink = SmtpSink()
    try:
        with bench_site(sink.port) as site:
            cookie, token = signed_in_admin(site)
            site.start_workers(1)
            with gunicorn(site) as base:
                bare = statistics.median(bare_session(sink.port) for _ in range(args.runs))
                runs = [one_run(base, cookie, token) for _ in range(args.runs)]
    finally:
        sink.stop()
    first = statistics.median(run[0] for run in runs)
    end = statistics.median(run[1] for run in runs)
    rows = [("bare smtplib session (connect … QUIT)", f"{bare * 1000:.1f}", "1.0"),
            ("click → first streamed step", f"{first * 1000:.1f}", f"{first / bare:.1f}"),
            ("click → end of stream (result shown)", f"{end * 1000:.1f}", f"{end / bare:.1f}")]
    print(table(f"Test email latency: median of {args.runs} runs, smtp-sink on loopback", rows,
                ("step", "ms", "× bare session")), flush=True)


if __name__ == "__main__":
    main()
