"""Only the agency's current token opens the API, and only to that agency's data; admins and
operators issue tokens, each shown once."""
import re

from api_fixtures import ORDER, Engine, outbox
from conftest import flask_cli, sign_in
from webapp import create_app
from webapp.api.service import issue_token
from webapp.extensions import db
from webapp.models import ApiToken, Order


def test_no_token_or_a_wrong_one_is_401_with_a_bearer_challenge(client, engine):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {engine.token}"}):
        response = client.post("/api/v1/orders", json=ORDER, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization" in response.json["errors"]
    assert db.session.execute(db.select(Order)).first() is None


def test_an_agency_cannot_touch_another_agencys_orders(engine, client, make_agency):
    engine.post("/orders", ORDER)
    booked = outbox()
    beta_agency = make_agency("beta")
    beta = Engine(client, issue_token(beta_agency.id))

    assert beta.patch("/orders/291205", {"status": "cancelled"}).status_code == 404
    for path, body in (("issue", {}), ("cancellation", {}), ("payments", {"amount": "1.00"})):
        assert beta.post(f"/orders/291205/{path}", body).status_code == 404
    # A payment problem is alerted even for an order the console has not seen: beta's own
    # alert, to beta's address, which says nothing of alpha's order.
    alert = beta.post("/orders/291205/payment-problems", {"kind": "issued_unpaid"})
    assert alert.status_code == 202 and alert.json["order_known"] is False
    assert db.session.execute(db.select(Order)).scalar_one().status == "booked"
    assert [row.agency_id for row in outbox()] == [row.agency_id for row in booked] + [beta_agency.id]
    # The same number is free in another agency.
    assert beta.post("/orders", ORDER).status_code == 201


def test_rotation_revokes_the_old_token(engine, agency):
    old = engine.token
    engine.token = issue_token(agency.id)
    assert engine.post("/orders", ORDER).status_code == 201
    engine.token = old
    assert engine.post("/orders", ORDER | {"number": "2"}).status_code == 401


def test_the_token_is_kept_hashed_and_its_use_noted(engine, agency):
    engine.post("/orders", ORDER)
    row = db.session.execute(db.select(ApiToken)).scalar_one()
    assert row.token_hash != engine.token and engine.token not in row.token_hash
    assert row.last_used_at is not None


def test_the_operators_command_prints_a_token_that_works(app, client, agency, flask_env):
    result = flask_cli(flask_env, "agencies", "token", agency.slug)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert Engine(client, token).post("/orders", ORDER).status_code == 201
    assert flask_cli(flask_env, "agencies", "token", "nowhere").returncode == 2


def test_an_admin_creates_a_token_seen_once(admin_client):
    page = admin_client.get("/api-access").get_data(as_text=True)
    assert "Доступ к API" in page and "Токена ещё нет" in page and "http://localhost/api/v1" in page

    issued = admin_client.post("/api-access")

    assert issued.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token"[^>]*value="([^"]+)"', issued.get_data(as_text=True))[1]
    assert Engine(admin_client, token).post("/orders", ORDER).status_code == 201
    assert token not in admin_client.get("/api-access").get_data(as_text=True)


def test_staff_who_are_not_admins_cannot_issue_tokens(client, agency, make_user):
    sign_in(client, make_user(agency, email="clerk@alpha.example", admin=False))
    assert client.get("/api-access").status_code == 403
    assert client.post("/api-access").status_code == 403


def test_the_api_needs_no_csrf_token_but_the_token_page_does(app_config, make_agency):
    app_config["WTF_CSRF_ENABLED"] = True
    csrf_app = create_app(app_config)
    with csrf_app.app_context():
        agency = make_agency("beta")
        web = csrf_app.test_client()
        assert Engine(web, issue_token(agency.id)).post("/orders", ORDER).status_code == 201
        assert web.post("/api-access").status_code == 400
