"""DiscoveryError and RegistrationError for their causes: a server whose metadata names another resource, and an
authorization server that refuses the registration. Both from a small hostile server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List

import pytest

import superdynamic
from conftest import StandInBrowser


class Hostile(ThreadingHTTPServer):
    """An MCP server that answers 401 and serves metadata; `resource` and `/register`'s answer are set per test."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.resource = f"{self.base}/mcp"
        self.requests: List[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: Hostile

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def _json(self, status: int, body: dict, headers: dict = {}) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _answer(self) -> None:
        s = self.server
        s.requests.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/mcp":
            challenge = f'Bearer resource_metadata="{s.base}/.well-known/oauth-protected-resource/mcp"'
            self._json(401, {"error": "unauthorized"}, {"WWW-Authenticate": challenge})
        elif self.path == "/.well-known/oauth-protected-resource/mcp":
            self._json(200, {"resource": s.resource, "authorization_servers": [s.base]})
        elif self.path == "/.well-known/oauth-authorization-server":
            self._json(200, {
                "issuer": s.base,
                "authorization_endpoint": f"{s.base}/authorize",
                "token_endpoint": f"{s.base}/token",
                "registration_endpoint": f"{s.base}/register",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
            })
        elif self.path == "/register":
            self._json(400, {"error": "invalid_redirect_uri", "error_description": "loopback redirect URIs are not allowed"})
        else:
            self._json(404, {"error": "not_found"})

    do_GET = _answer
    do_POST = _answer


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_metadata_for_another_resource_is_a_discovery_error(hostile, store_path):
    hostile.resource = "https://elsewhere.example/mcp"
    browser = StandInBrowser()
    c = superdynamic.Client(f"{hostile.base}/mcp", store="file", store_path=store_path, browser=browser)
    with pytest.raises(superdynamic.DiscoveryError) as raised:
        c.list_tools()
    message = str(raised.value)
    assert "https://elsewhere.example/mcp" in message and f"{hostile.base}/mcp" in message, message
    assert isinstance(raised.value, superdynamic.SuperdynamicError)
    assert browser.urls == [], "no sign-in starts for a server that is not the one asked for"
    assert not any(r.startswith("POST /register") for r in hostile.requests), hostile.requests
    assert not store_path.exists(), "nothing is stored"


def test_a_refused_registration_is_a_registration_error(hostile, store_path):
    browser = StandInBrowser()
    c = superdynamic.Client(f"{hostile.base}/mcp", store="file", store_path=store_path, browser=browser)
    with pytest.raises(superdynamic.RegistrationError) as raised:
        c.login()
    message = str(raised.value)
    assert "invalid_redirect_uri" in message and "loopback redirect URIs are not allowed" in message, message
    assert "POST /register" in hostile.requests
    assert browser.urls == [], "no browser opens without a client identity"


@pytest.mark.asyncio
async def test_the_async_client_raises_the_same_registration_error(hostile, store_path):
    async with superdynamic.AsyncClient(
        f"{hostile.base}/mcp", store="file", store_path=store_path, browser=StandInBrowser()
    ) as c:
        with pytest.raises(superdynamic.RegistrationError, match="invalid_redirect_uri"):
            await c.list_tools()
