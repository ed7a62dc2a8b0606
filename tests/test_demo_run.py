"""`./run`'s demo works as the README says, with no edits: its test email passes and a client's
registration reaches the local catcher, to be confirmed from there."""
import re
from html.parser import HTMLParser

import pytest

from fixtures_smtp import free_port
from webapp.catcher.service import caught_ids_of, list_caught, start_catcher
from webapp.extensions import db
from webapp.models import Agency, SendingPause, TestRun


@pytest.fixture
def dev_tools(app_config):
    app_config["DEV_TOOLS"] = True  # as ./run sets it: the registration form and /dev/mail


@pytest.fixture
def demo(dev_tools, app, tmp_path):
    """What `./run` does before serving: `flask demo --catcher-port P` and `flask catcher --port P`
    (the command itself, not a copy of its settings), with the site's DEV_TOOLS on."""
    app.instance_path = str(tmp_path)  # the command keeps the admin's password in instance/
    port = free_port()
    catcher = start_catcher(app.config["MAIL_CATCHER_DIR"], port=port)
    result = app.test_cli_runner().invoke(args=["demo", "--catcher-port", str(port)])
    assert result.exit_code == 0, result.output
    email, password = re.search(r"sign in as (\S+) with the password (\S+)", result.output).groups()
    yield email, password
    catcher.stop()


class SettingsForm(HTMLParser):
    """The values the settings page's form holds, as the test button posts them."""

    def __init__(self):
        super().__init__()
        self.values, self._select, self._inside = {}, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "mail-settings":
            self._inside = True
        if not self._inside:
            return
        if tag == "input" and attrs.get("name") and attrs.get("type") != "checkbox":
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._inside = False


def caught():
    from flask import current_app
    # The dev inbox shows an agency only its own mail; the demo is the one agency here.
    agency = db.session.execute(db.select(Agency)).scalar_one()
    return list_caught(current_app.config["MAIL_CATCHER_DIR"], caught_ids_of(agency.id))


def test_the_demo_test_email_passes_and_sending_is_not_paused(demo, client, run_worker):
    email, password = demo
    assert client.post("/sign-in", data={"email": email, "password": password}).status_code == 302

    form = SettingsForm()
    form.feed(client.get("/mail-settings").text)
    assert form.values["host"] == "127.0.0.1" and form.values["login"] == ""
    started = client.post("/mail-settings/test", data=form.values, headers={"HX-Request": "true"})
    assert started.status_code == 200
    run_worker()

    run = db.session.execute(db.select(TestRun)).scalar_one()
    assert run.ok is True, (run.hint_code, run.steps)
    assert db.session.execute(db.select(SendingPause)).scalar_one_or_none() is None
    [test_email] = caught()
    assert "office@demo.example" in test_email.envelope_to


def test_the_readme_registration_walk_through_delivers_and_confirms(demo, client, run_worker):
    registered = client.post("/register/demo", data={"login": "anna", "email": "anna@client.example",
                                                     "name": "Анна"})
    assert registered.status_code == 200
    run_worker()

    [confirmation] = caught()
    assert "anna@client.example" in confirmation.envelope_to
    assert "office@demo.example" in confirmation.sender and "client.example" not in confirmation.sender
    link = re.search(r"https?://\S+/confirm/\S+", confirmation.text).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200
    token_form = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    done = client.post("/" + path, data={"csrf_token": token_form.group(1)} if token_form else {})
    assert done.status_code == 200


def test_a_demo_made_by_the_old_seed_is_repaired_while_unchanged(dev_tools, app, tmp_path):
    from webapp.demo import ensure_demo, find_agency
    ensure_demo(1025, "demo-password")
    agency = find_agency("demo")
    agency.mail_settings.login = "office@demo.example"  # what the old seed stored
    db.session.commit()

    ensure_demo(1025, "demo-password")

    db.session.expire_all()
    assert find_agency("demo").mail_settings.login == ""
