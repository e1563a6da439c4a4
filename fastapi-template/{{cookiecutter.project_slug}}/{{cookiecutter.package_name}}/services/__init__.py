"""Application logic shared by the HTTP routes, WebSocket events, cache and jobs."""
