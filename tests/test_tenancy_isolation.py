"""An agency's staff never reach another agency's objects."""
from conftest import sign_in


def test_other_agencys_staff_profile_is_not_found(client, make_agency, make_user):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    alpha_admin = make_user(alpha)
    beta_admin = make_user(beta)
    sign_in(client, alpha_admin)

    assert client.get(f"/staff/{alpha_admin.id}").status_code == 200
    assert client.get(f"/staff/{beta_admin.id}").status_code == 404


def test_staff_list_shows_only_the_own_agency(client, make_agency, make_user):
    alpha, beta = make_agency("alpha"), make_agency("beta")
    sign_in(client, make_user(alpha))
    make_user(beta, email="someone@beta.example")

    page = client.get("/staff/").get_data(as_text=True)
    assert "admin@alpha.example" in page
    assert "someone@beta.example" not in page
