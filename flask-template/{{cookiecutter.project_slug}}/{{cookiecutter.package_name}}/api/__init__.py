"""The flask-smorest Api and the blueprints registered on it."""

from flask import Flask

from ..core.errors import ProblemApi
from .routes import {% if cookiecutter.use_auth %}auth, {% endif %}docs, health, items{% if cookiecutter.use_ml %}, jobs, ml{% endif %}{% if cookiecutter.use_auth %}, users{% endif %}{% if cookiecutter.use_websockets %}, ws{% endif %}

api = ProblemApi()


def init_api(app: Flask) -> None:
    for key, value in docs.OPENAPI_SETTINGS.items():
        app.config.setdefault(key, value)
    if not app.config["DOCS_ENABLED"]:
        # flask-smorest then serves none of /openapi.json, /docs and /redoc.
        app.config["OPENAPI_URL_PREFIX"] = None
    api.init_app(app)
    api.register_blueprint(health.blp)
    api.register_blueprint(items.blp)
{%- if cookiecutter.use_auth %}
    api.register_blueprint(auth.blp)
    api.register_blueprint(users.blp)
{%- endif %}
{%- if cookiecutter.use_ml %}
    api.register_blueprint(ml.blp)
    api.register_blueprint(jobs.blp)
{%- endif %}
{%- if cookiecutter.use_websockets %}
    ws.init_app(app)
{%- endif %}
