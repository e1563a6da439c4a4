"""HEAD on every GET route and OPTIONS on every route, which FastAPI does not add by itself.

HEAD runs the GET route and sends its status and headers without the body. OPTIONS answers
204 with `Allow`: every method the path's routes take. (A CORS preflight never gets here:
CORSMiddleware, further out, answers it.)
"""

from starlette.responses import Response
from starlette.routing import Match, Mount, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROUTE_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def allowed_methods(scope: Scope, router: Router) -> list[str]:
    """Every method this path takes, sorted: its routes' methods, HEAD wherever GET is, and
    OPTIONS; none for a path no route has.

    Ask the router with each method in turn: GET and POST on /api/v1/items, for instance,
    are two routes, and included routers answer only for a whole match. A mount (the docs'
    static files) matches any method but serves GET only.
    """
    allowed = set()
    for method in ROUTE_METHODS:
        probe = {**scope, "method": method}
        for route in router.routes:
            if route.matches(probe)[0] is Match.FULL:
                allowed.add("GET" if isinstance(route, Mount) else method)
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed | {"OPTIONS"}) if allowed else []


class AutomaticMethodsMiddleware:
    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        allowed = allowed_methods(scope, self.router)
        if method == "OPTIONS" and allowed:
            headers = {"Allow": ", ".join(allowed)}
            await Response(status_code=204, headers=headers)(scope, receive, send)
        elif method == "HEAD" and "GET" in allowed:
            await self.app({**scope, "method": "GET"}, receive, without_body(send))
        else:  # an unknown path (404) or a path with no GET (405)
            await self.app(scope, receive, send)


def without_body(send: Send) -> Send:
    """Pass the response's start (status and headers, Content-Length included) on, and
    end it with one empty body message in place of the body."""

    async def send_head(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
        elif not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return send_head
