"""A Redis that could lose queued jobs (no persistence, eviction) is named on /healthz and to admins."""
import pytest

from conftest import flask_cli, sign_in, start_redis


@pytest.fixture
def careless_redis(app_config, tmp_path):
    """The app's Redis: no append-only file, no snapshots, and keys evicted when memory is full."""
    process, app_config["REDIS_URL"] = start_redis(
        tmp_path, "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
    yield
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_without_config(app_config, tmp_path):
    """A managed-style Redis that refuses CONFIG, also careless."""
    process, app_config["REDIS_URL"] = start_redis(
        tmp_path, "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru",
        "--rename-command", "CONFIG", "")
    yield
    process.terminate()
    process.wait(10)


def test_a_redis_that_keeps_its_jobs_gives_no_warning(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["redis"]["warnings"] == []


def test_a_careless_redis_is_a_warning_not_an_outage(careless_redis, client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json["redis"]["ok"] is True
    assert response.json["redis"]["warnings"] == [
        {"code": "persistence_off", "setting": "appendonly", "value": "no", "expected": "yes"},
        {"code": "eviction", "setting": "maxmemory-policy", "value": "allkeys-lru",
         "expected": "noeviction"},
    ]


def test_without_the_config_command_info_still_tells(redis_without_config, client):
    warnings = client.get("/healthz").json["redis"]["warnings"]
    assert [w["code"] for w in warnings] == ["persistence_off", "eviction"]


def test_an_admin_sees_the_warning_on_every_page(careless_redis, admin_client):
    page = admin_client.get("/").get_data(as_text=True)

    assert 'id="redis-warnings"' in page
    assert "<code>appendonly yes</code>" in page
    assert "<code>maxmemory-policy noeviction</code>" in page


def test_staff_who_are_not_admins_see_no_warning(careless_redis, client, agency, make_user):
    sign_in(client, make_user(agency, "agent@alpha.example", admin=False))
    assert 'id="redis-warnings"' not in client.get("/").get_data(as_text=True)


def test_admins_of_a_well_set_redis_see_no_warning(admin_client):
    assert 'id="redis-warnings"' not in admin_client.get("/").get_data(as_text=True)


def test_the_check_is_cached_for_a_minute(careless_redis, app, admin_client):
    from webapp.jobs import redis_connection
    admin_client.get("/")
    redis_connection().config_set("maxmemory-policy", "noeviction")

    assert "maxmemory-policy" in admin_client.get("/").get_data(as_text=True)
    app.extensions.pop("redis_check")  # as if the minute had passed
    assert "maxmemory-policy" not in admin_client.get("/").get_data(as_text=True)


def test_a_worker_says_so_in_its_log_when_it_starts(careless_redis, app, flask_env):
    result = flask_cli(flask_env, "worker", "--burst")

    assert result.returncode == 0, result.stderr
    assert "set appendonly yes" in result.stderr
    assert "set maxmemory-policy noeviction" in result.stderr
