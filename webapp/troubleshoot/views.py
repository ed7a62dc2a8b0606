"""The troubleshooting page: start a run, watch each check stream in, see the delivery overview."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user
from markupsafe import Markup

from webapp.auth.access import admin_required
from webapp.event_streams import sse_response
from webapp.troubleshoot import overview
from webapp.troubleshoot.checks import AREAS, check_copies, make_context
from webapp.troubleshoot.service import (clear_copies, events_key, run_agency_id, run_state,
                                         start_run)

bp = Blueprint("troubleshoot", __name__, url_prefix="/troubleshooting")


@bp.app_template_global("troubleshoot_link")
def link_url(link: dict) -> str:
    """A check's link, stored as endpoint, arguments and anchor, as a URL of this site."""
    url = url_for(link["endpoint"], **link["args"])
    return f"{url}#{link['anchor']}" if link["anchor"] else url


@bp.route("")
@admin_required
def index():
    agency_id = current_user.agency_id
    days = overview.delivery_by_day(agency_id)
    bars, top = overview.chart_bars(days)
    return render_template("troubleshoot/page.html", days=days, bars=bars, top=top,
                           totals=overview.totals(days), failure_reasons=overview.top_failure_reasons(agency_id),
                           log_from=overview.first_day().isoformat())


@bp.route("/runs", methods=["POST"])
@admin_required
def start():
    run_id = start_run(current_user.agency, current_user, str(get_locale()))
    if request.headers.get("HX-Request"):
        return render_template("troubleshoot/_run.html", state=run_state(run_id), areas=AREAS)
    return redirect(url_for(".show", run_id=run_id), 303)


def _own_run(run_id: str) -> str:
    # Another agency's run answers exactly like an expired one: 404.
    if run_agency_id(run_id) != current_user.agency_id:
        abort(404)
    return run_id


@bp.route("/runs/<run_id>")
@admin_required
def show(run_id: str):
    """The run without JavaScript: the results so far, refreshing itself until the run ends."""
    state = run_state(_own_run(run_id))
    return render_template("troubleshoot/run_page.html", state=state, areas=AREAS,
                           summary_html=_textarea_text(state.summary))


@bp.route("/runs/<run_id>/stream")
@admin_required
def stream(run_id: str):
    run_id = _own_run(run_id)

    def render(event: str, data: dict) -> str:
        if event == "check":
            return render_template("troubleshoot/_check.html", result=data, areas=AREAS)
        if event == "summary":
            return render_template("troubleshoot/_summary.html", summary_html=_textarea_text(data["text"]))
        return ""

    return sse_response(events_key(run_id), render, after=request.headers.get("Last-Event-ID", "0"))


def _textarea_text(text: str | None) -> Markup | None:
    # Newlines as character references: a streamed event is one line of HTML, and a textarea
    # decodes the references back into line breaks.
    return Markup("&#10;").join(text.splitlines()) if text else None


@bp.route("/copies/clear", methods=["POST"])
@admin_required
def clear_copies_address():
    changed = clear_copies(current_user.agency, current_user)
    if request.headers.get("HX-Request"):
        result = check_copies(make_context(current_user.agency)).as_dict()
        return render_template("troubleshoot/_check.html", result=result, areas=AREAS, cleared=changed)
    flash(_("The copies address is cleared: notifications are sent once.") if changed
          else _("There was no copies address to clear."), "success")
    return redirect(url_for(".index"), 303)
