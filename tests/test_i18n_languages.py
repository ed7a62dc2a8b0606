"""Russian by default, English on request; no untranslated string anywhere."""
import sys

from conftest import ROOT, sign_in

sys.path.insert(0, str(ROOT / "scripts"))
import i18n  # noqa: E402


def test_every_interface_string_has_a_russian_translation():
    assert i18n.untranslated() == []


def test_no_string_is_translated_two_ways():
    assert i18n.conflicting_translations() == []


def test_russian_is_the_default(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Вход" in page and 'lang="ru"' in page


def test_the_browsers_language_is_followed(client):
    page = client.get("/sign-in", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert "Sign in" in page and 'lang="en"' in page


def test_the_users_choice_wins_over_the_browser(client, admin):
    sign_in(client, admin)
    client.post("/language", data={"locale": "en", "next": "/staff/"})
    page = client.get("/staff/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Staff member" in page or "Administrator" in page
