"""Flask extensions: created once here, initialised in the app factory."""
import sqlite3

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

from webapp.i18n import CatalogueBabel

# Named constraints keep migrations identical on SQLite and PostgreSQL.
db = SQLAlchemy(metadata=MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}))
migrate = Migrate()
login_manager = LoginManager()
babel = CatalogueBabel()
csrf = CSRFProtect()


@event.listens_for(Engine, "connect")
def _let_sqlite_writers_wait(dbapi_connection, _record) -> None:
    """Several workers on one SQLite file: WAL lets readers run beside the writer, and a writer
    waits up to 30 s for the lock instead of failing at once with "database is locked".

    synchronous=NORMAL: in WAL mode a commit still survives a killed process (the sender marks
    each accepted email sent at once, and a SIGKILL must not lose that), and is lost only to
    an OS crash or power cut; it drops the fsync per commit that bounded sending and the API
    (docs/PERFORMANCE.md). Production runs on PostgreSQL."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
