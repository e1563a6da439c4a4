"""/openapi.json, /docs (Swagger UI) and /redoc (ReDoc).

flask-smorest serves all three from these settings. The pages load their scripts and
styles from /static/docs/, which Flask serves from this package's static folder, so the
documentation works with no internet access. The routes document their responses with
the helpers below.
"""

from http import HTTPStatus

ASSETS_URL = "/static/docs/"
{%- if cookiecutter.use_auth %}
# Swagger UI's Authorize button signs in through this scheme's token URL.
SECURITY_SCHEME = "OAuth2PasswordBearer"
TOKEN_URL = "/api/v1/auth/token"
{%- endif %}

OPENAPI_SETTINGS = {
    "API_TITLE": "{{ cookiecutter.project_name }}",
    "API_VERSION": "0.1.0",
    # 3.1: a nullable nested object (an item's dimensions) is then exactly "it or null".
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
    "OPENAPI_REDOC_PATH": "redoc",
    "OPENAPI_REDOC_URL": ASSETS_URL + "redoc.standalone.js",
{%- if cookiecutter.use_auth %}
    "API_SPEC_OPTIONS": {
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
                }
            }
        }
    },
{%- endif %}
}


def problems(*statuses: int) -> dict[int, str]:
    """The error statuses an operation answers, each as the shared problem response of
    that status (see `ProblemApi`): `@blp.doc(responses=problems(404, 412))`."""
    return {status: HTTPStatus(status).name for status in statuses}


# A JSON body may be broken (400), too large (413) or not JSON at all (415); the 422 of
# an invalid one `@blp.arguments` documents itself.
JSON_BODY = (400, 413, 415)
{%- if cookiecutter.use_auth %}

# Operations behind `login_required` or `admin_required` declare the scheme
# (`@blp.doc(security=BEARER)`) and answer 401 without a valid token.
BEARER: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
{%- endif %}
