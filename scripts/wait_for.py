"""Wait until Redis answers PING or a health URL answers 200 (the run command's readiness gate)."""
import sys
import time
import urllib.request

from redis import Redis
from redis.exceptions import RedisError


def ready(kind: str, target: str) -> bool:
    try:
        if kind == "redis":
            return Redis.from_url(target).ping()
        with urllib.request.urlopen(target, timeout=2) as response:
            return response.status == 200
    except (RedisError, OSError):
        return False


if __name__ == "__main__":
    kind, target = sys.argv[1], sys.argv[2]
    deadline = time.monotonic() + 60
    while not ready(kind, target):
        if time.monotonic() > deadline:
            sys.exit(f"{target} is not ready after 60 s")
        time.sleep(0.3)
