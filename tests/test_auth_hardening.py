"""Sign-in as an attacker meets it: the time it takes, the throttle behind a proxy, revocation."""
import hashlib

import pytest

from conftest import PASSWORD, sign_in


@pytest.fixture
def hash_work(monkeypatch):
    """Every PBKDF2 run werkzeug makes while checking a password: (hash name, iterations)."""
    runs = []
    real = hashlib.pbkdf2_hmac

    def counting(hash_name, password, salt, iterations, *args, **kwargs):
        runs.append((hash_name, iterations))
        return real(hash_name, password, salt, iterations, *args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    return runs


def test_an_unknown_address_costs_the_same_hashing_as_a_wrong_password(client, admin, hash_work):
    client.post("/sign-in", data={"email": "first@alpha.example", "password": "guess-guess"})
    hash_work.clear()  # the process's first unknown address also makes the stand-in hash
    client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"})
    known = list(hash_work)
    hash_work.clear()
    client.post("/sign-in", data={"email": "nobody@alpha.example", "password": "guess-guess"})
    unknown = list(hash_work)

    assert known == [("sha256", 1000)]  # the test configuration's method, checked once
    assert unknown == known


@pytest.fixture
def behind_load_balancer(app_config, request):
    """The app as DEPLOY.md runs it: one load balancer in front, TRUSTED_PROXIES=1."""
    app_config["TRUSTED_PROXIES"] = 1
    return request.getfixturevalue("client")


def from_client(address):
    # The load balancer (REMOTE_ADDR 127.0.0.1, the test client's) appends the client it saw.
    return {"X-Forwarded-For": address}


def test_behind_the_load_balancer_an_attacker_locks_out_only_himself(behind_load_balancer, admin,
                                                                     make_user, agency):
    client = behind_load_balancer
    colleague = make_user(agency, "colleague@alpha.example", admin=False)
    attacker = from_client("203.0.113.66")
    for _ in range(5):
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"},
                    headers=attacker)
    for number in range(60):  # and then many other addresses, past the per-client bound
        client.post("/sign-in", data={"email": f"user{number}@alpha.example", "password": "x"},
                    headers=attacker)

    refused = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                          headers=attacker)
    assert refused.status_code == 429
    owner = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                        headers=from_client("198.51.100.7"))
    assert owner.status_code == 302  # the account's owner, from his own address
    client.post("/sign-out")
    other = client.post("/sign-in", data={"email": colleague.email, "password": PASSWORD},
                        headers=from_client("198.51.100.8"))
    assert other.status_code == 302  # and everyone else behind the same balancer


def test_a_client_past_the_load_balancer_cannot_choose_his_address(behind_load_balancer, admin):
    client = behind_load_balancer
    for number in range(5):
        # A forged X-Forwarded-For entry comes before the one the balancer appends: ignored.
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"},
                    headers=from_client(f"10.9.9.{number}, 203.0.113.66"))
    refused = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                          headers=from_client("10.9.9.99, 203.0.113.66"))
    assert refused.status_code == 429


def test_without_trusted_proxies_forwarded_addresses_are_ignored(client, admin):
    for number in range(5):
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"},
                    headers=from_client(f"203.0.113.{number}"))
    refused = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                          headers=from_client("203.0.113.99"))
    assert refused.status_code == 429


def test_one_client_guessing_many_accounts_is_stopped_at_the_looser_bound(client, admin):
    for number in range(50):  # ten accounts, five guesses each: each under its own limit
        client.post("/sign-in", data={"email": f"user{number // 5}@alpha.example",
                                      "password": "guess-guess"})
    refused = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    assert refused.status_code == 429


def test_an_ipv6_attacker_cannot_use_a_fresh_address_of_his_block_for_each_guess(
        behind_load_balancer, admin):
    client = behind_load_balancer
    for number in range(5):
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"},
                    headers=from_client(f"2001:db8:5:7::{number + 1:x}"))
    refused = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                          headers=from_client("2001:db8:5:7:ffff::1"))
    assert refused.status_code == 429
    owner = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                        headers=from_client("2001:db8:5:8::1"))  # another subscriber's block
    assert owner.status_code == 302


def test_guesses_at_one_account_spread_over_many_clients_are_bounded(behind_load_balancer, admin):
    client = behind_load_balancer
    for number in range(100):  # twenty clients, each under its own allowance of five
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"},
                    headers=from_client(f"203.0.113.{number // 5}"))
    refused = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD},
                          headers=from_client("198.51.100.7"))
    assert refused.status_code == 429


def test_trusted_proxies_must_be_a_count(monkeypatch, tmp_path):
    from webapp.config import from_environment
    monkeypatch.setenv("TRUSTED_PROXIES", "yes")
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        from_environment(str(tmp_path))
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert from_environment(str(tmp_path)).TRUSTED_PROXIES == 2


def request(app, browser, method, url, **kwargs):
    """One request in an app context of its own, as in production: the test's app context
    would otherwise lend every request the same `g`, and Flask-Login keeps the user it loaded
    there (and the same database session)."""
    with app.app_context():
        return browser.open(url, method=method, **kwargs)


def signed_in_cookies(app, user):
    """A browser signed in with "remember me": its session and remember cookies."""
    browser = app.test_client()
    response = request(app, browser, "POST", "/sign-in",
                       data={"email": user.email, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    return browser, {name: browser.get_cookie(name).value for name in ("session", "remember_token")}


def replay(app, cookies):
    """Another browser presenting copies of those cookies; True if it is let in."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    return request(app, thief, "GET", "/").status_code == 200


def test_cookies_copied_before_sign_out_are_refused_after_it(app, admin):
    browser, cookies = signed_in_cookies(app, admin)
    assert replay(app, cookies)
    assert replay(app, {"remember_token": cookies["remember_token"]})

    request(app, browser, "POST", "/sign-out")

    assert not replay(app, {"session": cookies["session"]})
    assert not replay(app, {"remember_token": cookies["remember_token"]})
    assert not replay(app, cookies)


def test_signing_out_ends_the_other_devices_sessions_too(app, admin):
    laptop, _ = signed_in_cookies(app, admin)
    phone, _ = signed_in_cookies(app, admin)
    request(app, laptop, "POST", "/sign-out")
    assert request(app, phone, "GET", "/").status_code == 302
    again, _ = signed_in_cookies(app, admin)
    assert request(app, again, "GET", "/").status_code == 200  # signing in again works


def test_a_new_password_ends_the_sessions_made_with_the_old_one(app, admin):
    from webapp.extensions import db
    _, cookies = signed_in_cookies(app, admin)
    admin.set_password("a brand new passphrase")
    db.session.commit()
    assert not replay(app, {"session": cookies["session"]})
    assert not replay(app, {"remember_token": cookies["remember_token"]})
