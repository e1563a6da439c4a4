"""/openapi.json, /docs (Swagger UI) and /redoc (ReDoc).

flask-smorest serves all three from these settings. The pages load their scripts and
styles from /static/docs/, which Flask serves from this package's static folder, so the
documentation works with no internet access.
"""

ASSETS_URL = "/static/docs/"

OPENAPI_SETTINGS = {
    "API_TITLE": "{{ cookiecutter.project_name }}",
    "API_VERSION": "0.1.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
    "OPENAPI_REDOC_PATH": "redoc",
    "OPENAPI_REDOC_URL": ASSETS_URL + "redoc.standalone.js",
}
