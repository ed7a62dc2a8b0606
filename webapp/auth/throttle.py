"""Slowing down password guessing: failed sign-ins counted in Redis per account and client, and
per client.

The client is the address the request came from, as the trusted proxies report it
(TRUSTED_PROXIES, applied by ProxyFix in the app factory); an IPv6 client is its /64, the block
one subscriber gets, or each guess could come from a fresh address. An attacker who guesses one
account's password locks out only himself, not its owner signing in from elsewhere, nor, behind
a shared load balancer, every other user. Only guessing spread over many clients (twenty times
a client's allowance) refuses the account for everyone until the window ends: the price of
bounding a botnet's guesses at one password."""
import ipaddress

from flask import current_app

from webapp.jobs import redis_connection

ACCOUNT_KEY = "signin:failures:account:{}:{}"
IP_KEY = "signin:failures:ip:{}"
ANY_CLIENT_KEY = "signin:failures:account:{}"


def client_of(ip: str | None) -> str:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    allowed = current_app.config["SIGN_IN_FAILURES_ALLOWED"]
    client, account = client_of(ip), email.strip().lower()
    # One client trying many addresses is stopped too, later, so an office behind one IP is not.
    return [(ACCOUNT_KEY.format(account, client), allowed),
            (IP_KEY.format(client), allowed * 10),
            (ANY_CLIENT_KEY.format(account), allowed * 20)]


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
    """A right password: the account starts afresh from this client, and this attempt stops
    counting against the client (an office behind one address signs in many times a day)."""
    (account_key, _), (ip_key, _), (any_client_key, _) = _keys(email, ip)
    with redis_connection().pipeline() as pipe:
        pipe.delete(account_key)
        pipe.decr(ip_key)
        pipe.decr(any_client_key)
        pipe.execute()
