"""The database: Flask-SQLAlchemy, Flask-Migrate, SQLite pragmas and `upgrade_database()`."""

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_migrate import Migrate, upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class Base(DeclarativeBase):
    pass


# Objects stay readable after commit, so a write does not need a second SELECT to answer.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
if TYPE_CHECKING:
    # db.Model is made from Base when the extension is created; what a type checker can
    # know of it is Base's, so models subclass this name rather than the attribute.
    Model = Base
else:
    Model = db.Model
migrate = Migrate(directory=str(MIGRATIONS_DIR))

# JSON columns are JSONB on PostgreSQL (binary, indexable, with containment queries).
JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while one writer commits; the busy timeout makes a writer
    # wait for the lock instead of failing at once when several workers write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_db(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _set_sqlite_pragmas)


def upgrade_database() -> None:
    """Apply pending migrations; gunicorn runs this once before starting its workers.

    It needs an app with the database and nothing else. gunicorn's master forks the
    workers next, so it loads as little as it can: native libraries that keep threads of
    their own do not survive fork().
{%- if cookiecutter.use_ml %} Workers forked after ONNX Runtime was loaded abort as
    they exit.
{%- endif %}
    """
    from .config import flask_config, load_settings

    app = Flask(__name__)
    app.config.from_mapping(flask_config(load_settings()))
    init_db(app)
    with app.app_context():
        upgrade()
        # The caller forks workers next: they must not inherit open connections.
        db.engine.dispose()
