"""A small blocking JSON client for seeding and cleaning up through the service's API."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import quote, urlencode

TOKEN_PATH = "/api/v1/auth/token"


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:200]!r}")
        self.status = status


class ApiClient:
    def __init__(
        self,
        host: str,
        port: int,
        prefix: str = "",
        timeout: float = 10.0,
        token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.prefix = prefix
        self.timeout = timeout
        self.token = token
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        payload: object = None,
        expect: tuple[int, ...] = (200,),
        form: dict[str, str] | None = None,
    ) -> tuple[int, dict, object]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # one retry on a keep-alive connection the server closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        if response.status not in expect:
            raise ApiError(method, path, response.status, raw)
        data = json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else None
        return response.status, dict(response.getheaders()), data

    def get(self, path: str, expect: tuple[int, ...] = (200,)) -> object:
        return self.request("GET", path, expect=expect)[2]

    def post(self, path: str, payload: object, expect: tuple[int, ...] = (201,)) -> object:
        return self.request("POST", path, payload, expect=expect)[2]

    def delete(self, path: str, attempts: int = 5) -> None:
        """Delete, retrying while a request still in flight from the load changes the item.

        Without If-Match the services answer 412 only when a concurrent write won the race.
        """
        for attempt in range(1, attempts + 1):
            try:
                self.request("DELETE", path, expect=(204, 404))
                return
            except ApiError as exc:
                if exc.status != 412 or attempt == attempts:
                    raise
                time.sleep(0.05 * attempt)

    def delete_tagged_items(self, tag: str) -> int:
        """Delete every item carrying `tag`; the count deleted."""
        deleted = 0
        while True:
            page = self.get(f"/api/v1/items?tag={quote(tag)}&limit=100")
            items = page["items"] if isinstance(page, dict) else []
            if not items:
                return deleted
            for item in items:
                self.delete(f"/api/v1/items/{item['id']}")
                deleted += 1

    def login(self, username: str, password: str) -> str | None:
        """Log in with the OAuth2 password grant; the bearer token, or None when the service
        has no token endpoint (a service without authentication)."""
        status, _, data = self.request(
            "POST",
            TOKEN_PATH,
            form={"grant_type": "password", "username": username, "password": password},
            expect=(200, 404, 405),
        )
        if status != 200:
            return None
        if not isinstance(data, dict) or not data.get("access_token"):
            raise ApiError("POST", TOKEN_PATH, status, b"no access_token in the answer")
        return data["access_token"]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
