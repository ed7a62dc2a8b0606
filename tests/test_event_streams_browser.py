"""In a real browser: a live view whose reconnection is refused (429) recovers by itself, and
shows each step once (issue 19 item 2, the stream limits)."""
import pytest

from conftest import browser_sign_in
from outbox_helpers import point_agency_at
from webapp.event_streams import read_events
from webapp.extensions import db
from webapp.models import TestRun
from webapp.smtpcheck.service import events_key

pytestmark = pytest.mark.browser


def test_a_view_refused_on_reconnection_resumes_without_repeating_steps(page, admin, agency, smtp_server,
                                                                       background_worker):
    point_agency_at(agency, smtp_server())
    browser_sign_in(page, admin)
    page.goto("/mail-settings")
    requests = []

    def stream(route):
        requests.append(route.request.all_headers())
        if len(requests) == 1:
            # The connection drops after the first two steps (the run's whole replay, cut short;
            # "retry" makes the browser's own reconnection quick).
            blocks = route.fetch().text().split("\n\n")
            kept = [block for block in blocks if block.startswith(": open")] + \
                [block for block in blocks if "event: step" in block][:2]
            route.fulfill(status=200, content_type="text/event-stream",
                          body="retry: 100\n\n" + "\n\n".join(kept) + "\n\n")
        elif len(requests) == 2:
            # The browser reconnects, but the old stream still holds the slot: refused.
            route.fulfill(status=429, content_type="text/plain", body="Too many live views",
                          headers={"Retry-After": "15"})
        else:
            route.continue_()

    page.route("**/mail-settings/test/*/stream*", stream)
    page.click("button.send-test")

    page.locator(".test-result article").wait_for(timeout=30_000)
    run_id = db.session.execute(db.select(TestRun.id)).scalar_one()
    steps = [data["step"] for _id, event, data in read_events(events_key(run_id)) if event == "step"]
    assert len(requests) >= 3  # the refused view came back by itself
    shown = page.locator(".test-run .steps li.step").evaluate_all("items => items.map(i => i.dataset.step)")
    assert shown == steps  # each step once, in order
    assert page.locator(".test-run .stream-waiting").is_hidden()
