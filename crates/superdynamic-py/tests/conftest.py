"""Fixtures: the reference server binary on a free loopback port, a private store, and a stand-in browser."""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _binary(name: str, env: str) -> str:
    path = os.environ.get(env) or str(ROOT / "target" / "debug" / name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `cargo build -p {name}` first (or set {env})")
    return path


SERVER_BIN = _binary("superdynamic-server", "SUPERDYNAMIC_SERVER_BIN")


class Server:
    """`superdynamic-server --port 0` with an in-memory database; stopped by the fixture."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [SERVER_BIN, "--port", "0", "--db", ":memory:", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if "MCP endpoint " in line:
                self.url = line.split("MCP endpoint ", 1)[1].strip()
                break
        if not self.url:
            self.stop()
            raise RuntimeError("the reference server did not start")
        # Keep draining its log so it never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def start_server() -> Iterator:
    started: List[Server] = []

    def start(*args: str) -> Server:
        server = Server(*args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server) -> Server:
    return start_server()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "credentials.json"


_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_FORM = re.compile(r'<form method="post" action="([^"]+)">')
# The device page's code field (RFC 8628 §3.3), prefilled from verification_uri_complete.
_CODE = re.compile(r'<input id="user_code" name="(user_code)" value="([^"]*)"')


class _KeepRedirect(urllib.request.HTTPRedirectHandler):
    """Follows the authorization server's own redirects, but not the one to the client's redirect URI."""

    def __init__(self, browser: "StandInBrowser") -> None:
        self.browser = browser

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if "code=" in urllib.parse.urlsplit(newurl).query or "error=" in urllib.parse.urlsplit(newurl).query:
            self.browser.redirect = newurl
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class StandInBrowser:
    """What a person does in a browser: sign in as demo/demo and press Approve (or Deny) on the consent page.

    Follows the authorization URL with a cookie jar, fills in the forms, and lets the last redirect reach
    the client's loopback listener. `urls` records every authorization URL it was given."""

    def __init__(self, decision: str = "approve", deliver: bool = True) -> None:
        self.decision = decision
        # deliver=False: stop at the authorization server's redirect to the client and keep its address in
        # `redirect` instead (what a person copies from a browser on another machine to paste).
        self.deliver = deliver
        self.redirect: Optional[str] = None
        self.urls: List[str] = []
        self.last_page: Optional[str] = None

    def __call__(self, url: str) -> None:
        self.urls.append(url)
        handlers: list = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        if not self.deliver:
            handlers.append(_KeepRedirect(self))
        opener = urllib.request.build_opener(*handlers)
        try:
            self._walk(opener, url)
        except urllib.error.HTTPError:
            if self.redirect is None:
                raise  # only the kept redirect ends the walk early

    def _walk(self, opener: urllib.request.OpenerDirector, url: str) -> None:
        response = opener.open(url, timeout=20)
        for _ in range(4):
            page = response.read().decode("utf-8", "replace")
            self.last_page = page
            form = _FORM.search(page)
            if form is None:
                return  # the listener's "signed in" page: done
            fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(page) + _CODE.findall(page)}
            action = urllib.parse.urljoin(response.geturl(), html.unescape(form.group(1)))
            if 'name="password"' in page:
                fields.update(username="demo", password="demo")
            else:
                fields["decision"] = self.decision
            response = opener.open(action, urllib.parse.urlencode(fields).encode(), timeout=20)
