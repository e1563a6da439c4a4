"""Security headers on every response; a Content-Security-Policy on the docs pages.

The docs pages load every script, style and image from this service (/static/docs), so
their policy allows nothing else. Swagger UI and ReDoc start from an inline script and
style their own elements, and ReDoc renders in a worker made from a blob: URL.
"""

from flask import Flask, Response, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
DOCS_PAGES = frozenset({"/docs", "/redoc"})
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def init_security_headers(app: Flask) -> None:
    """Add the headers to every response, error responses included."""
    headers = dict(HEADERS)
    if app.config["HSTS_SECONDS"] > 0:
        headers["Strict-Transport-Security"] = (
            f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains"
        )

    docs_headers = {**headers, "Content-Security-Policy": DOCS_POLICY}

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # Appended, as no view sets them: `update` would first look for each one among the
        # response's headers, a third of this hook's work on every response.
        response.headers.extend(docs_headers if request.path in DOCS_PAGES else headers)
        return response
