"""Operators create agencies and staff from scripts."""
from conftest import PASSWORD, flask_cli, sign_in
from webapp.extensions import db
from webapp.models import Agency, User


def test_agency_and_admin_created_from_the_command_line(app, client, flask_env):
    created = flask_cli(flask_env, "agencies", "create", "sunny", "--name", "Солнечный тур",
                        "--email", "Office@Sunny.Example")
    assert created.returncode == 0, created.stderr
    flask_env["NEW_ADMIN_PASSWORD"] = PASSWORD
    user = flask_cli(flask_env, "users", "create", "boss@sunny.example", "--agency", "sunny",
                     "--admin", "--password-env", "NEW_ADMIN_PASSWORD")
    assert user.returncode == 0, user.stderr
    assert PASSWORD not in user.stdout + user.stderr

    agency = db.session.execute(db.select(Agency).filter_by(slug="sunny")).scalar_one()
    assert agency.email == "Office@sunny.example"
    admin = db.session.execute(db.select(User).filter_by(email="boss@sunny.example")).scalar_one()
    assert admin.is_admin and admin.agency_id == agency.id
    sign_in(client, admin)


def test_bad_slug_is_refused_naming_the_field(app, flask_env):
    result = flask_cli(flask_env, "agencies", "create", "Bad Slug!", "--name", "X")
    assert result.returncode == 2
    assert "slug" in result.stderr


def test_user_for_a_missing_agency_is_refused(app, flask_env):
    flask_env["P"] = PASSWORD
    result = flask_cli(flask_env, "users", "create", "a@b.example", "--agency", "nowhere",
                       "--password-env", "P")
    assert result.returncode == 2
    assert "--agency" in result.stderr


def test_empty_password_variable_is_refused(app, agency, flask_env):
    result = flask_cli(flask_env, "users", "create", "a@b.example", "--agency", agency.slug,
                       "--password-env", "UNSET_VARIABLE_FOR_TEST")
    assert result.returncode == 2
    assert "UNSET_VARIABLE_FOR_TEST" in result.stderr
