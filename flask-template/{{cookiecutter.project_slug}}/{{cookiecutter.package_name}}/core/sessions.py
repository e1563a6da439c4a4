"""No cookie sessions: clients of this API send a bearer token, not a cookie.

Flask's default session interface builds a signing serializer on every request to look for
a session cookie, whenever a SECRET_KEY is set (it is: tokens are signed with it). Nothing
here uses `flask.session`, so every request gets Flask's empty null session instead, at no
cost.
"""

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin


class NoSessions(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> None:
        return None  # Flask then makes a null session, which refuses to be written to

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        pass
