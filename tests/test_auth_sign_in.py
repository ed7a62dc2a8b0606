"""Staff sign in and out; pages need a signed-in user."""
from conftest import PASSWORD, sign_in


def test_admin_signs_in_and_sees_the_agency(client, admin):
    response = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "Alpha" in home.get_data(as_text=True)


def test_wrong_password_is_refused_with_a_message(client, admin):
    response = client.post("/sign-in", data={"email": admin.email, "password": "nope-nope"})
    assert response.status_code == 200
    assert "Неверный e-mail или пароль." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_email_is_matched_case_insensitively(client, admin):
    response = client.post("/sign-in", data={"email": admin.email.upper(), "password": PASSWORD})
    assert response.status_code == 302


def test_sign_out_ends_the_session(client, admin):
    sign_in(client, admin)
    response = client.post("/sign-out")
    assert response.status_code == 302
    assert client.get("/").headers["Location"].startswith("/sign-in")


def test_pages_redirect_to_sign_in_when_signed_out(client, admin):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


def test_sign_in_never_redirects_off_site(client, admin):
    response = client.post("/sign-in?next=//evil.example/x",
                           data={"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(client, admin):
    response = client.post("/sign-in?next=/staff/",
                           data={"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"] == "/staff/"


def test_password_guessing_is_stopped_after_five_failures(client, admin):
    for _ in range(5):
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"})
    blocked = client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Слишком много неудачных попыток входа" in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # even the right password did not sign in


def test_a_successful_sign_in_forgets_earlier_failures(client, admin):
    for _ in range(4):
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"})
    sign_in(client, admin)
    client.post("/sign-out")
    for _ in range(4):
        client.post("/sign-in", data={"email": admin.email, "password": "guess-guess"})
    assert client.post("/sign-in", data={"email": admin.email, "password": PASSWORD}).status_code == 302


def test_pages_carry_a_self_only_content_security_policy(client):
    response = client.get("/sign-in")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
