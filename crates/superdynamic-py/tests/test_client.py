"""The package against the real reference server: sign-in, calls, refresh, step-up, logout, errors."""

from __future__ import annotations

import json
import urllib.parse

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


def test_an_expired_token_is_refreshed_without_a_sign_in(start_server, store_path):
    server = start_server("--access-token-ttl", "2")
    browser = StandInBrowser()
    with client(server, store_path, browser) as c:
        c.call_tool("get_weather", {"location": "Paris"})
        first = json.loads(store_path.read_text())["credentials"][0]["tokens"]["access_token"]
        import time

        time.sleep(3)
        c.call_tool("get_weather", {"location": "Rome"})
        second = json.loads(store_path.read_text())["credentials"][0]["tokens"]["access_token"]
        assert c.refresh()["refreshed"] is True
    assert len(browser.urls) == 1, "the refresh token, not a second sign-in"
    assert first != second


def test_a_tool_that_needs_more_scope_steps_up(server, store_path):
    browser = StandInBrowser()
    with client(server, store_path, browser) as c:
        assert "files:read" not in (c.login()["scope"] or "")
        result = c.call_tool("read_file", {"path": "todo.txt"})
        scope = c.clients()["credentials"][0]["scope"]
    assert len(browser.urls) == 2, "the first sign-in, then one for files:read"
    assert "files:read" in urllib.parse.parse_qs(urllib.parse.urlparse(browser.urls[1]).query)["scope"][0]
    assert result["content"] and not result.get("isError")
    assert "files:read" in scope and "mcp:tools" in scope


def test_logout_forgets_the_tokens_and_the_next_call_signs_in_again(server, store_path):
    browser = StandInBrowser()
    with client(server, store_path, browser) as c:
        c.login()
        outcome = c.logout()
        assert outcome["removed"] is True
        assert c.clients()["credentials"] == []
        c.call_tool("get_weather", {"location": "Paris"})
    assert len(browser.urls) == 2


def test_a_closed_port_is_a_transport_error(store_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    c = superdynamic.Client(url, store="file", store_path=store_path, browser=StandInBrowser())
    with pytest.raises(superdynamic.TransportError) as raised:
        c.list_tools()
    assert str(raised.value) == f"could not reach {url}: is the server running and the URL right?"
    assert isinstance(raised.value, superdynamic.SuperdynamicError)


def test_a_corrupt_store_is_a_store_error_and_is_left_alone(server, store_path):
    store_path.parent.mkdir(mode=0o700)
    store_path.write_text("{ not json")
    store_path.chmod(0o600)
    with pytest.raises(superdynamic.StoreError) as raised:
        client(server, store_path).list_tools()
    assert str(store_path) in str(raised.value), raised.value
    assert store_path.read_text() == "{ not json", "nothing is overwritten"


def test_denied_consent_is_an_authorization_error(server, store_path):
    with pytest.raises(superdynamic.AuthorizationError) as raised:
        client(server, store_path, StandInBrowser(decision="deny")).list_tools()
    assert "access_denied" in str(raised.value), raised.value


def test_bad_arguments_are_a_tool_error(server, store_path):
    with client(server, store_path) as c:
        with pytest.raises(superdynamic.ToolError) as raised:
            c.call_tool("get_weather", {"location": 42})
        with pytest.raises(superdynamic.ToolError) as unknown:
            c.call_tool("no_such_tool", {})
        with pytest.raises(superdynamic.UsageError) as not_json:
            c.call_tool("get_weather", {"location": object()})
    assert str(raised.value) == (
        "the tool 'get_weather' reported an error: failed to deserialize parameters: invalid type: integer `42`, "
        "expected a string"
    )
    assert raised.value.result["isError"] is True
    assert str(unknown.value) == "the MCP server answered with JSON-RPC error -32602: tool not found"
    assert str(not_json.value).startswith("arguments['location']: a value of type object cannot be sent as JSON")


def test_wrong_options_are_usage_errors(store_path):
    with pytest.raises(superdynamic.UsageError, match="invalid server URL"):
        superdynamic.Client("not a url", store="file", store_path=store_path)
    with pytest.raises(superdynamic.UsageError, match='store="postgres" needs the database'):
        superdynamic.Client("http://127.0.0.1:1/mcp", store="postgres")
    with pytest.raises(superdynamic.UsageError, match="is not a store"):
        superdynamic.Client("http://127.0.0.1:1/mcp", store="disk")


def test_an_exception_of_the_browser_callable_ends_the_sign_in(server, store_path):
    class Refused(Exception):
        pass

    def browser(url: str) -> None:
        raise Refused("the user closed the window")

    with pytest.raises(Refused, match="the user closed the window"):
        client(server, store_path, browser, auth_timeout=30).list_tools()
