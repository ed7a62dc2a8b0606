"""/healthz: JSON for load balancers and the run command."""
from flask import Blueprint, jsonify

from webapp.health.service import check_health

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    report = check_health()
    return jsonify(report), 200 if report["ok"] else 503
