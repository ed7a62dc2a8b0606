"""Redirect targets taken from requests: only ever paths of this site (no open redirect)."""
from urllib.parse import urlsplit


def local_url(target: str | None, default: str) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlsplit(target).netloc:
        return target
    return default
