"""/healthz tells whether the database, Redis and a worker are there."""
from rq import SimpleWorker

from webapp import create_app
from webapp.jobs import all_queues, redis_connection


def test_healthy_site_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"]["ok"] and response.json["redis"]["ok"]
    assert response.json["workers"] == {"ok": False, "count": 0}


def test_a_registered_worker_is_counted(app, client):
    worker = SimpleWorker(all_queues(), connection=redis_connection())
    worker.register_birth()
    try:
        assert client.get("/healthz").json["workers"] == {"ok": True, "count": 1}
    finally:
        worker.register_death()
    assert client.get("/healthz").json["workers"]["count"] == 0


def test_redis_down_is_a_503(app_config):
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app = create_app(app_config)
    with app.app_context():
        from webapp.extensions import db
        db.create_all()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["redis"]["ok"] is False
