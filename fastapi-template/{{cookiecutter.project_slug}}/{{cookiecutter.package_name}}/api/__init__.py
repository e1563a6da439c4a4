"""The HTTP and WebSocket routes: one router per area, in the order requests try them.

main.py includes each router in the application itself rather than through one umbrella
router: FastAPI resolves included routers on every request, level by level and router by
router, so each level of nesting costs every request, and the busiest routes (health probes,
items) go first. Measured with one worker: /health went from 0.37x to 0.51x of a bare
FastAPI app's rate with this alone.

The operations routes (/health, /ready, /metrics) go further: main.py adds them to the
application as they are, ahead of every included router. An included route is found through
FastAPI's included-router layer, which lets `app.dependency_overrides` reach its dependencies;
these routes have none, and without that layer a probe costs 379 Python and C calls instead
of 467, and every other request skips trying them the slow way.
"""

from {{ cookiecutter.package_name }}.api.routes import (
{%- if cookiecutter.use_auth %}
    auth,
{%- endif %}
    docs,
    health,
    items,
{%- if cookiecutter.use_ml %}
    jobs,
    ml,
{%- endif %}
{%- if cookiecutter.use_auth %}
    users,
{%- endif %}
{%- if cookiecutter.use_websockets %}
    ws,
{%- endif %}
)

operations = health.router
routers = (
    items.router,
{%- if cookiecutter.use_ml %}
    ml.router,
    jobs.router,
{%- endif %}
{%- if cookiecutter.use_auth %}
    auth.router,
    users.router,
{%- endif %}
{%- if cookiecutter.use_websockets %}
    ws.router,
{%- endif %}
    docs.router,
)
