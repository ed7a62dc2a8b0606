"""Run every benchmark in turn (one process each, so none warms another's caches) and print their
tables; a missing or failing benchmark is reported and the others still run."""
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("throughput.py", "latency.py", "schedule_tick.py", "claim_backlog.py", "web.py",
           "test_email_latency.py", "chaos.py")
CAP = 600  # seconds per benchmark: the whole run stays under 15 minutes on 2 cores


def main() -> int:
    failed = []
    started = time.monotonic()
    for script in SCRIPTS:
        if not (BENCH / script).exists():
            print(f"\n## {script}: not written yet, skipped", flush=True)
            continue
        print(f"\n## {script}", flush=True)
        try:
            subprocess.run([sys.executable, str(BENCH / script)], cwd=BENCH,
                           check=True, timeout=CAP)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            print(f"{script} failed: {error}", flush=True)
            failed.append(script)
    print(f"\nAll benchmarks: {time.monotonic() - started:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
