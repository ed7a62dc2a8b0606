"""Troubleshooting runs: started from the page, executed by an RQ job check by check, streamed through Redis."""
import logging
import secrets
from dataclasses import dataclass

from flask_babel import force_locale, format_datetime, gettext as _, lazy_gettext as _l

from webapp.event_streams import STREAM_TTL, publish, read_events
from webapp.extensions import db
from webapp.jobs import DEFAULT_QUEUE, get_queue, redis_connection
from webapp.mailsettings.service import save_settings, settings_view
from webapp.models import Agency, User
from webapp.models.types import utcnow
from webapp.smtpcheck.service import last_run, run_hint
from webapp.troubleshoot import overview
from webapp.troubleshoot.checks import AREAS, CHECKS, OK, PROBLEM, UNKNOWN, CheckResult, make_context, outgoing_host_name

log = logging.getLogger(__name__)

RUN_KEY = "troubleshoot-run:{run_id}"
EVENTS_KEY = "troubleshoot-run:{run_id}:events"


@dataclass(frozen=True)
class RunState:
    """What a run has published so far: check results (as dicts), the support summary, done or not."""

    run_id: str
    results: list[dict]
    summary: str | None
    done: bool


def events_key(run_id: str) -> str:
    return EVENTS_KEY.format(run_id=run_id)


def start_run(agency: Agency, user: User | None, language: str) -> str:
    """Record who asked (the run lives in Redis for an hour, like its stream) and queue its job."""
    run_id = secrets.token_hex(16)
    key = RUN_KEY.format(run_id=run_id)
    connection = redis_connection()
    connection.hset(key, mapping={"agency_id": agency.id, "user_id": user.id if user else "",
                                  "language": language})
    connection.expire(key, STREAM_TTL)
    from webapp.jobs import run_troubleshooting
    get_queue(DEFAULT_QUEUE).enqueue(run_troubleshooting, run_id, job_id=f"troubleshoot-{run_id}",
                                     result_ttl=0, failure_ttl=86400)
    return run_id


def run_agency_id(run_id: str) -> int | None:
    """The agency a run belongs to, None for an unknown or expired run."""
    value = redis_connection().hget(RUN_KEY.format(run_id=run_id), "agency_id")
    return int(value) if value else None


def run_state(run_id: str) -> RunState:
    results, summary, done = [], None, False
    for _id, event, data in read_events(events_key(run_id)):
        if event == "check":
            results.append(data)
        elif event == "summary":
            summary = data["text"]
        elif event == "done":
            done = True
    return RunState(run_id, results, summary, done)


def execute_run(run_id: str) -> RunState | None:
    """The job's work: each check in turn, its result published as soon as it is known.

    A retried job publishes only what the first attempt did not get to.
    """
    meta = {k.decode(): v.decode() for k, v in redis_connection().hgetall(RUN_KEY.format(run_id=run_id)).items()}
    if not meta:
        return None  # expired before a worker took it
    state = run_state(run_id)
    if state.done:
        return state
    agency = db.session.get(Agency, int(meta["agency_id"]))
    published = {result["check"] for result in state.results}
    results = list(state.results)
    with force_locale(meta.get("language") or agency.locale):
        context = make_context(agency)
        for check in CHECKS:
            if _key(check) in published:
                continue
            result = _run_check(check, context)
            results.append(result.as_dict())
            publish(events_key(run_id), "check", result.as_dict())
        needs_support = any(result["status"] != OK for result in results)
        publish(events_key(run_id), "summary",
                {"text": support_summary(agency, results) if needs_support else None})
    publish(events_key(run_id), "done", {})
    return run_state(run_id)


def _key(check) -> str:
    return check.__name__.removeprefix("check_")


def _run_check(check, context) -> CheckResult:
    try:
        return check(context)
    except Exception as exc:  # one broken check must not hide the others' answers
        log.exception("troubleshooting check %s failed", check.__name__)
        return CheckResult(check=_key(check), area="", status=UNKNOWN,
                           title=_("Could not check: %(error)s", error=type(exc).__name__))


STATUS_MARKS = {OK: _l("OK"), PROBLEM: _l("PROBLEM"), UNKNOWN: _l("COULD NOT CHECK")}


def support_summary(agency: Agency, results: list[dict]) -> str:
    """What to send to support: settings without the password, the last test, each check, the counts."""
    settings = settings_view(agency)
    run = last_run(agency.id)
    days = overview.delivery_by_day(agency.id)
    total = overview.totals(days)
    lines = [
        _("Troubleshooting summary, %(when)s", when=format_datetime(utcnow(), "short")),
        _("Agency: %(slug)s (%(name)s)", slug=agency.slug, name=agency.name),
        _("Installation host (EHLO): %(host)s", host=outgoing_host_name()),
        _("Server: %(host)s, port %(port)s, security %(security)s",
          host=settings.host or "—", port=settings.port or "—", security=settings.security),
        _("Login: %(login)s; password: %(password)s", login=settings.login or "—",
          password=_("set") if settings.password_set else _("not set")),
        _("Sender: %(address)s, name %(name)s", address=settings.sender_address or "—",
          name=settings.sender_name or "—"),
        _("Agency email: %(agency)s; copies: %(copies)s; payment problems: %(payments)s",
          agency=settings.agency_email or "—", copies=settings.copies_email or "—",
          payments=settings.payment_problems_email or "—"),
    ]
    if run is None:
        lines.append(_("Last test email: none"))
    else:
        hint = run_hint(run)
        outcome = _("accepted") if run.ok else f"{run.failed_step}: {hint.code if hint else ''} {run.hint_reply}".strip()
        lines.append(_("Last test email: %(when)s, %(outcome)s",
                       when=format_datetime(run.finished_at, "short"), outcome=outcome))
    lines.append(_("Emails of the last 30 days: sent %(sent)d, failed %(failed)d, skipped %(skipped)d",
                   sent=total.sent, failed=total.failed, skipped=total.skipped))
    for reason in overview.top_failure_reasons(agency.id):
        lines.append(f"  {reason.status} {reason.code}: {reason.count}")
    lines.append(_("Checks:"))
    for result in results:
        line = f"[{STATUS_MARKS[result['status']]}] {AREAS.get(result['area'], '')}: {result['title']}"
        lines.append(line + (f" ({result['detail']})" if result["status"] != OK and result["detail"] else ""))
    return "\n".join(lines)


def clear_copies(agency: Agency, user: User | None) -> bool:
    """Stop the copies (S12) through the settings' save, so the change history records it."""
    values = settings_view(agency).values()
    if not values["copies_email"]:
        return False
    values["copies_email"] = ""
    return "copies_email" in save_settings(agency, values, user=user)
