"""Checks of the database, Redis and the RQ workers, for /healthz, the admin pages and the run command."""
import time

from flask import current_app
from redis.exceptions import RedisError, ResponseError
from rq import Worker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.jobs import redis_connection

# The Redis settings check runs on every admin page: once a minute per process is plenty.
REDIS_CHECK_TTL = 60


def check_health() -> dict:
    report = {"database": _database(), "redis": _redis(), "workers": _workers()}
    report["ok"] = report["database"]["ok"] and report["redis"]["ok"]
    return report


def _database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True}
    except SQLAlchemyError as exc:
        return {"ok": False, "error": type(exc).__name__}


def _redis() -> dict:
    try:
        redis_connection().ping()
    except RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}
    # A Redis that loses or evicts keys loses queued jobs: worth a warning, not a 503.
    return {"ok": True, "warnings": redis_warnings()}


def _workers() -> dict:
    try:
        count = Worker.count(connection=redis_connection())
    except RedisError:
        return {"ok": False, "count": None}
    # No worker is not fatal for the web site, but no email leaves: say so.
    return {"ok": count > 0, "count": count}


def redis_warnings() -> list[dict]:
    """Redis settings that can lose queued jobs, checked at most once a minute per process."""
    cached = current_app.extensions.get("redis_check")
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        warnings = _redis_settings_warnings(redis_connection())
    except RedisError:
        warnings = []  # unreachable: _redis() reports that, and the next call checks again
    else:
        current_app.extensions["redis_check"] = (time.monotonic() + REDIS_CHECK_TTL, warnings)
    return warnings


def _redis_settings_warnings(connection) -> list[dict]:
    try:
        config = connection.config_get("appendonly")
        config |= connection.config_get("save")
        config |= connection.config_get("maxmemory-policy")
        persistent = config["appendonly"] == "yes" or bool(config["save"].strip())
        policy = config["maxmemory-policy"]
    except ResponseError:
        # Managed Redis often disables CONFIG; INFO tells less: a server that only snapshots
        # counts as persistent once it has saved.
        info = connection.info("persistence") | connection.info("memory")
        persistent = info.get("aof_enabled") == 1 or info.get("rdb_saves", 0) > 0
        policy = info.get("maxmemory_policy", "")
    warnings = []
    if not persistent:
        # On a restart every queued job (wake-ups, retries, test emails) would be gone.
        warnings.append({"code": "persistence_off", "setting": "appendonly",
                         "value": "no", "expected": "yes"})
    if policy != "noeviction":
        # Under memory pressure Redis would delete queued jobs to make room.
        warnings.append({"code": "eviction", "setting": "maxmemory-policy",
                         "value": policy, "expected": "noeviction"})
    return warnings
