"""Defects an outside attack run found (issue 19, items 1, 2, 9, 10): changes of one order at
once, live streams that held the site's threads, requests that answered 500, a retried
Idempotency-Key answered 409, and a dev inbox that showed every agency's mail."""
import json
import threading
import urllib.request

from api_fixtures import ORDER, outbox
from webapp.api.service import issue_token
from webapp.extensions import db
from webapp.models import Order
from webapp.notification_kinds import ORDER_CHANGE


def api_call(base_url: str, token: str, method: str, path: str, body: dict,
             key: str | None = None) -> tuple[int, dict]:
    """The booking engine over real HTTP, as the attack run sent it."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(f"{base_url}/api/v1{path}", data=json.dumps(body).encode(),
                                     headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


# 1. Order changes at once ---------------------------------------------------------------------

def test_changes_of_one_order_at_once_each_get_a_revision_and_an_email(live_server, agency):
    token = issue_token(agency.id)
    assert api_call(live_server, token, "POST", "/orders", ORDER)[0] == 201
    changes = 24
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(changes)

    def change(n: int) -> None:
        start.wait()
        answers.append(api_call(live_server, token, "PATCH", "/orders/291205",
                                {"change_summary": f"Change number {n}"}))

    threads = [threading.Thread(target=change, args=(n,)) for n in range(changes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sorted(status for status, _ in answers) == [200] * changes
    emails = outbox(ORDER_CHANGE)
    assert sorted(row.context["change_summary"] for row in emails) == \
        sorted(f"Change number {n}" for n in range(changes))
    assert sorted(row.dedupe_key for row in emails) == \
        sorted(f"order_change:{emails[0].dedupe_key.split(':')[1]}:{n}" for n in range(1, changes + 1))
    db.session.expire_all()
    assert db.session.execute(db.select(Order.revision)).scalar_one() == changes
