"""Slowing down password guessing: failed sign-ins counted in Redis per address and per client."""
from flask import current_app

from webapp.jobs import redis_connection

EMAIL_KEY = "signin:failures:email:{}"
IP_KEY = "signin:failures:ip:{}"


def _keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    allowed = current_app.config["SIGN_IN_FAILURES_ALLOWED"]
    # One client trying many addresses is stopped too, later, so an office behind one IP is not.
    return [(EMAIL_KEY.format(email.strip().lower()), allowed),
            (IP_KEY.format(ip or "unknown"), allowed * 10)]


def seconds_blocked(email: str, ip: str | None) -> int:
    """How long sign-in stays refused for this address or client; 0 when it is allowed."""
    connection = redis_connection()
    waits = [connection.ttl(key) for key, allowed in _keys(email, ip)
             if int(connection.get(key) or 0) >= allowed]
    return max(waits, default=0)


def record_failure(email: str, ip: str | None) -> None:
    window = current_app.config["SIGN_IN_WINDOW_SECONDS"]
    with redis_connection().pipeline() as pipe:
        for key, _allowed in _keys(email, ip):
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
        pipe.execute()


def clear_failures(email: str) -> None:
    redis_connection().delete(EMAIL_KEY.format(email.strip().lower()))
