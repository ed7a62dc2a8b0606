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
