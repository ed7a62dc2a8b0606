"""The committed migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import flask_cli
from webapp.extensions import db


def test_upgrade_on_an_empty_database_matches_the_models(app, flask_env):
    db.drop_all()
    result = flask_cli(flask_env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []
