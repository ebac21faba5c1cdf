"""The package against the real reference server: sign-in, calls, refresh, step-up, logout, errors."""

from __future__ import annotations

import json

import pytest

import superdynamic
from conftest import StandInBrowser


def client(server, store_path, browser=None, **options) -> superdynamic.Client:
    return superdynamic.Client(
        server.url, store="file", store_path=store_path, browser=browser or StandInBrowser(), **options
    )


def test_first_sign_in_then_a_cached_call(server, store_path):
    browser = StandInBrowser()
    with client(server, store_path, browser) as c:
        result = c.call_tool("get_weather", {"location": "Paris"})
    assert len(browser.urls) == 1, "one sign-in"
    assert "Paris" in json.dumps(result["content"]), result
    stored = json.loads(store_path.read_text())
    assert stored["credentials"][0]["tokens"]["access_token"], "tokens kept in the CLI's file store"
    assert oct(store_path.stat().st_mode & 0o777) == "0o600"

    again = StandInBrowser()
    with client(server, store_path, again) as c:
        tools = c.list_tools()
        c.call_tool("get_weather", {"location": "Oslo"})
    assert again.urls == [], "the stored token serves a second process without a sign-in"
    assert {"get_weather", "read_file"} <= {t["name"] for t in tools}
