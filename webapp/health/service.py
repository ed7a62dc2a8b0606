"""Checks of the database, Redis and the RQ workers, for /healthz and the run command."""
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.jobs import redis_connection


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
        return {"ok": True}
    except RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}


def _workers() -> dict:
    try:
        count = Worker.count(connection=redis_connection())
    except RedisError:
        return {"ok": False, "count": None}
    # No worker is not fatal for the web site, but no email leaves: say so.
    return {"ok": count > 0, "count": count}
