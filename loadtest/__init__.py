"""A fast pure-Python HTTP/1.1 and WebSocket load generator, and a Flask-vs-FastAPI
comparison of the services this repository's templates generate."""
