"""Requests per second and latency of the mail-settings page and of one inline validation, against
a bare endpoint of the same app, under the same wrk load on loopback.

    .venv/bin/python bench/web.py [--seconds 10] [--connections 8]

The app runs in gunicorn as production runs it (gunicorn.conf.py), in one process beside wrk
(bench/harness.py says why); the bare endpoint is added to that app for the run only, so it pays
the same middleware, session, headers and access log.
"""
import argparse
import re
import shutil
import subprocess
import sys
import tempfile

from harness import bench_site, gunicorn, signed_in_admin, table

WRK_POST = """
wrk.method = "POST"
wrk.body = "host=smtp.yandex.ru"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["HX-Request"] = "true"
wrk.headers["X-CSRFToken"] = "{token}"
"""


def wrk(url: str, cookie: str, seconds: int, connections: int, script: str | None = None) -> dict:
    binary = shutil.which("wrk")
    assert binary, "wrk is missing: apt-get install wrk (./bench does it)"
    command = [binary, "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency",
               "-H", f"Cookie: session={cookie}", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script:
            lua.write(script)
            lua.flush()
            command[1:1] = ["-s", lua.name]
        output = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=seconds + 30).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    assert not errors, f"{url}: {errors.group(1)} error responses\n{output}"
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50": re.search(r"50%\s+(\S+)", output).group(1),
            "p99": re.search(r"99%\s+(\S+)", output).group(1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    endpoints = {
        "bare endpoint (GET /bench/bare)": ("/bench/bare", None),
        "settings page (GET /mail-settings)": ("/mail-settings", None),
        "inline validation (POST /mail-settings/validate/host)":
            ("/mail-settings/validate/host", WRK_POST),
    }
    with bench_site(smtp_port=2525) as site:
        cookie, token = signed_in_admin(site)
        with gunicorn(site) as base:
            # One untimed second of each endpoint first: its first requests compile its templates
            # and load the catalogues, ~7 % of the page's timed run in a py-spy profile otherwise.
            for path, script in endpoints.values():
                wrk(f"{base}{path}", cookie, 1, 1, script and script.format(token=token))
            results = {name: wrk(f"{base}{path}", cookie, args.seconds, args.connections,
                                 script and script.format(token=token))
                       for name, (path, script) in endpoints.items()}
    bare = results["bare endpoint (GET /bench/bare)"]["rps"]
    rows = [(name, f"{r['rps']:,.0f}", f"{r['rps'] / bare:.2f}", r["p50"], r["p99"])
            for name, r in results.items()]
    print(table(f"Web: wrk, {args.connections} connections, {args.seconds} s each, gunicorn as "
                f"gunicorn.conf.py in one process", rows,
                ("endpoint", "req/s", "of bare (target ≥ 0.3)", "p50", "p99")), flush=True)


if __name__ == "__main__":
    sys.exit(main())
