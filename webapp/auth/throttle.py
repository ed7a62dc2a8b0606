"""Slowing down password guessing: sign-in attempts counted in Redis per address and per client."""
from flask import current_app

from webapp.jobs import redis_connection

EMAIL_KEY = "signin:failures:email:{}"
IP_KEY = "signin:failures:ip:{}"


def _keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    allowed = current_app.config["SIGN_IN_FAILURES_ALLOWED"]
    # One client trying many addresses is stopped too, later, so an office behind one IP is not.
    return [(EMAIL_KEY.format(email.strip().lower()), allowed),
            (IP_KEY.format(ip or "unknown"), allowed * 10)]


def count_attempt(email: str, ip: str | None) -> int:
    """Count this attempt, then say how long sign-in stays refused (0: go on and check the
    password). Counting first means parallel guesses cannot all slip under the limit."""
    window = current_app.config["SIGN_IN_WINDOW_SECONDS"]
    keys = _keys(email, ip)
    with redis_connection().pipeline() as pipe:
        for key, _allowed in keys:
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
            pipe.ttl(key)
        answers = pipe.execute()
    counts, ttls = answers[0::3], answers[2::3]
    return max((ttl for (key, allowed), count, ttl in zip(keys, counts, ttls) if count > allowed),
               default=0)


def clear_failures(email: str, ip: str | None) -> None:
    """A right password: the address starts afresh, and this attempt stops counting against
    the client (an office behind one address signs in many times a day)."""
    with redis_connection().pipeline() as pipe:
        pipe.delete(EMAIL_KEY.format(email.strip().lower()))
        pipe.decr(IP_KEY.format(ip or "unknown"))
        pipe.execute()
