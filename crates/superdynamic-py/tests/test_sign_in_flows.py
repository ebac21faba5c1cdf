"""The headless sign-ins from Python: the device flow (RFC 8628) and a redirect pasted on standard input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse

import superdynamic
from conftest import StandInBrowser


def test_the_device_flow_hands_the_complete_verification_uri_to_the_callable(server, store_path):
    browser = StandInBrowser()
    with superdynamic.Client(server.url, store="file", store_path=store_path, browser=browser, flow="device") as c:
        result = c.call_tool("get_weather", {"location": "Paris"})
    assert "Paris" in json.dumps(result["content"])
    (url,) = browser.urls
    parts = urllib.parse.urlsplit(url)
    assert parts.path == "/device" and "user_code=" in parts.query, url
    stored = json.loads(store_path.read_text())["credentials"][0]
    assert stored["tokens"]["access_token"]


def test_a_denied_device_sign_in_is_an_authorization_error(server, store_path):
    c = superdynamic.Client(
        server.url, store="file", store_path=store_path, browser=StandInBrowser(decision="deny"), flow="device"
    )
    try:
        c.list_tools()
    except superdynamic.AuthorizationError as e:
        assert "access_denied" in str(e), e
    else:
        raise AssertionError("a denied device sign-in must raise AuthorizationError")


# The program a user runs on a machine without a browser: it prints the URL and reads the pasted redirect.
PASTE_PROGRAM = r"""
import json, sys, superdynamic
def show(url):
    print(url, flush=True)
with superdynamic.Client(sys.argv[1], store="file", store_path=sys.argv[2], browser=show, flow="paste",
                         auth_timeout=60) as c:
    print(json.dumps(c.call_tool("get_weather", {"location": "Lima"})), flush=True)
"""


def test_a_pasted_redirect_completes_the_sign_in_and_a_wrong_one_is_refused_first(server, store_path):
    env = {k: v for k, v in os.environ.items() if k != "BROWSER"}
    child = subprocess.Popen(
        [sys.executable, "-c", PASTE_PROGRAM, server.url, str(store_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        url = child.stdout.readline().strip()
        assert url.startswith(server.url.rsplit("/mcp", 1)[0]), url
        browser = StandInBrowser(deliver=False)
        browser(url)
        assert browser.redirect and "code=" in browser.redirect, browser.last_page
        # Another sign-in's redirect (wrong state) first: refused, the sign-in keeps waiting.
        wrong = browser.redirect.replace("state=", "state=x")
        child.stdin.write(wrong + "\n" + browser.redirect + "\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "Lima" in out, out
    assert "That is not the redirect of this sign-in" in err, err
