"""/healthz: JSON for load balancers and the run command; the Redis warning on admin pages."""
from flask import Blueprint, jsonify

from webapp.health.service import check_health, redis_warnings

bp = Blueprint("health", __name__)


@bp.app_context_processor
def inject_redis_warnings():
    # A function, not its result: only the pages that show the banner (admins') pay for the check.
    return {"redis_warnings": redis_warnings}


@bp.route("/healthz")
def healthz():
    report = check_health()
    return jsonify(report), 200 if report["ok"] else 503
