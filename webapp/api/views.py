"""The booking engine's JSON API under /api/v1, its documentation, and the token page."""
import functools
import hashlib
import json

from flask import Blueprint, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from webapp.api import openapi, schemas
from webapp.api.service import (IdempotencyKeyBusy, IdempotencyKeyReused, agency_for_token,
                                issue_token, release_key, remember_response, replay_or_reserve,
                                request_fingerprint, token_status)
from webapp.auth.access import admin_required
from webapp.bookings import service as bookings
from webapp.extensions import csrf, db
from webapp.outbox.documents import note_refusal
from webapp.outbox.service import wake
from webapp.tenancy import current_agency
from webapp.urls import public_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The engine authenticates with its bearer token on every request; no browser session is involved.
csrf.exempt(bp)
# The token page is a browser form: it keeps CSRF protection, hence a blueprint of its own.
access_bp = Blueprint("api_access", __name__)

MAX_BODY = 64 * 1024
BATCH_MAX_BODY = 1024 * 1024  # room for 500 registrations with long names
# Room for 10 MB of documents in base64 (4/3) and the rest of the body: a body a little over
# the limit still reaches the check that names the field at fault.
DOCUMENTS_MAX_BODY = 16 * 1024 * 1024
DOCUMENT_ENDPOINTS = ("api.create_order", "api.issue_order", "api.cancel_order",
                      "api.record_payment")
ERROR_STATUS = {bookings.NotFound: 404, bookings.Conflict: 409, bookings.Invalid: 422}


def api_endpoint(schema):
    """Bearer token, then the JSON body checked against `schema`, then the Idempotency-Key
    replay around the view, which gets the token's agency and the cleaned payload."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(**kwargs):
            agency = agency_for_token(_bearer_token())
            if agency is None:
                return _json({"errors": {"Authorization": "send 'Authorization: Bearer TOKEN' "
                                         "with the agency's API token"}}, 401,
                             {"WWW-Authenticate": 'Bearer realm="api"'})
            try:
                payload = schema.validate(_json_body())
            except schemas.PayloadError as error:
                if any(field.startswith("documents") for field in error.errors):
                    # Troubleshooting counts them; a retry under its key is the same refusal.
                    note_refusal(agency.id, error.errors, _refused_request_key())
                return _json({"errors": error.errors}, error.status)
            key = request.headers.get("Idempotency-Key")
            if key is None:
                return _json(*_run(view, agency, payload, kwargs))
            return _json(*_run_once(key, view, agency, payload, kwargs))

        return wrapped

    return decorator


def _run(view, agency, payload, kwargs) -> tuple[dict, int]:
    try:
        return view(agency, payload, **kwargs)
    except bookings.BookingError as error:
        return {"errors": {error.field: error.message}}, ERROR_STATUS[type(error)]


def _run_once(key: str, view, agency, payload, kwargs) -> tuple[dict, int]:
    """Answer a repeated request with the first response, doing nothing again."""
    if not 1 <= len(key) <= 255:
        return {"errors": {"Idempotency-Key": "must be 1 to 255 characters"}}, 422
    fingerprint = request_fingerprint(request.method, request.path, request.get_data())
    try:
        stored = replay_or_reserve(agency.id, key, fingerprint)
    except IdempotencyKeyReused:
        return {"errors": {"Idempotency-Key": "this key was used with a different request; "
                           "use a new key for each new request"}}, 422
    except IdempotencyKeyBusy:
        return {"errors": {"Idempotency-Key": "a request with this key is still being "
                           "processed; retry later"}}, 409
    if stored is not None:
        status, body = stored
        return body, status
    try:
        # The answer is committed with the event's effects: a failure anywhere before leaves
        # nothing done and the key free, a failure after leaves the answer to replay.
        with bookings.commit_held() as agencies_to_wake:
            body, status = _run(view, agency, payload, kwargs)
            if status >= 400:
                db.session.rollback()  # a refused event keeps nothing but its answer
            remember_response(agency.id, key, status, body)
    except BaseException:
        release_key(agency.id, key)
        raise
    for agency_id in agencies_to_wake:
        wake(agency_id)
    return body, status


def _refused_request_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    fingerprint = request_fingerprint(request.method, request.path, request.get_data())
    return hashlib.sha256(f"{fingerprint} {key}".encode()).hexdigest()


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _json_body():
    if not request.is_json:
        raise schemas.PayloadError({"Content-Type": "send the body as application/json"}, 415)
    try:
        return json.loads(request.get_data())
    # A deeply nested array exhausts the parser's recursion: still just a bad body.
    except (ValueError, RecursionError) as error:
        raise schemas.PayloadError({"body": f"not valid JSON: {error}"}, 400) from None


def _json(body: dict, status: int, headers: dict | None = None):
    return make_response(body, status, headers or {})


@bp.before_request
def limit_body():
    request.max_content_length = BATCH_MAX_BODY if request.endpoint == "api.register_many" \
        else DOCUMENTS_MAX_BODY if request.endpoint in DOCUMENT_ENDPOINTS else MAX_BODY


def api_error(error: HTTPException):
    """Machine clients get JSON for every error under /api/, including unknown paths
    (webapp/errors.py sends them here)."""
    return _json({"errors": {"request": error.description}}, error.code)


@bp.post("/registrations")
@api_endpoint(schemas.REGISTRATION)
def register(agency, payload):
    client = bookings.register_client(agency, **payload, site_url=public_url())
    return {"id": client.id, "login": client.login, "status": client.status}, 201


@bp.post("/registrations/batch")
@api_endpoint(schemas.REGISTRATIONS)
def register_many(agency, payload):
    outcomes = bookings.register_clients(agency, payload, site_url=public_url())
    return {"results": [_registration_result(outcome) for outcome in outcomes]}, 200


def _registration_result(outcome: bookings.Registered | bookings.BookingError) -> dict:
    if isinstance(outcome, bookings.BookingError):
        return {"code": ERROR_STATUS[type(outcome)], "errors": {outcome.field: outcome.message}}
    return {"code": 201, "id": outcome.id, "login": outcome.login, "status": outcome.status}


@bp.post("/orders")
@api_endpoint(schemas.NEW_ORDER)
def create_order(agency, payload):
    return schemas.order_json(bookings.create_order(agency, **payload)), 201


@bp.patch("/orders/<number>")
@api_endpoint(schemas.ORDER_CHANGE)
def change_order(agency, payload, number):
    summary = payload.pop("change_summary", "")
    return schemas.order_json(bookings.update_order(agency, number, payload, summary)), 200


@bp.post("/orders/<number>/issue")
@api_endpoint(schemas.BOOKING_ISSUED)
def issue_order(agency, payload, number):
    return schemas.order_json(bookings.issue_order(agency, number, **payload)), 200


@bp.post("/orders/<number>/cancellation")
@api_endpoint(schemas.BOOKING_CANCELLED)
def cancel_order(agency, payload, number):
    return schemas.order_json(bookings.cancel_order(agency, number, **payload)), 200


@bp.post("/orders/<number>/payments")
@api_endpoint(schemas.PAYMENT_RECEIVED)
def record_payment(agency, payload, number):
    return schemas.order_json(bookings.record_payment(agency, number, **payload)), 200


@bp.post("/orders/<number>/payment-problems")
@api_endpoint(schemas.PAYMENT_PROBLEM)
def payment_problem(agency, payload, number):
    # An order the console has not seen is alerted all the same: its number must still be one.
    known = bookings.report_payment_problem(agency, number, payload["kind"])
    return {"order_number": number, "kind": payload["kind"], "order_known": known}, 202


@bp.get("/openapi.json")
def openapi_document():
    return openapi.document()


@bp.get("/docs")
def docs():
    return render_template("api/docs.html", document=openapi.document(),
                           api_url=public_url() + bp.url_prefix)


@access_bp.get("/api-access")
@admin_required
def access():
    return _access_page()


@access_bp.post("/api-access")
@admin_required
def rotate_token():
    new_token = issue_token(current_agency().id)
    # The token is shown in this one response, never stored in a session or a flash message.
    response = make_response(_access_page(new_token))
    response.headers["Cache-Control"] = "no-store"
    return response


def _access_page(new_token: str | None = None) -> str:
    return render_template("api/access.html", token=token_status(current_agency().id),
                           new_token=new_token, api_url=public_url() + bp.url_prefix)
