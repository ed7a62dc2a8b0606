"""This site's addresses: redirect targets taken from requests (only ever paths of this site, no
open redirect) and the public address that emailed links point to."""
from urllib.parse import urlsplit

from flask import current_app, request


def local_url(target: str | None, default: str) -> str:
    # A control character (CR LF above all) cannot go into a Location header: the fallback.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and target.isprintable() and not urlsplit(target).netloc:
        return target
    return default


def public_url() -> str:
    """Where people reach this installation: PUBLIC_URL, else the host this request came to."""
    return (current_app.config["PUBLIC_URL"] or request.host_url).rstrip("/")
