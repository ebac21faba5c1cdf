"""The official Python MCP SDK's client, with superdynamic as its auth, against the reference server."""

from __future__ import annotations

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

import superdynamic
from conftest import StandInBrowser


@pytest.mark.asyncio
async def test_the_sdk_signs_in_calls_and_steps_up_through_httpx_auth(server, store_path):
    browser = StandInBrowser()
    auth = superdynamic.httpx_auth(server.url, store="file", store_path=store_path, browser=browser)
    async with create_mcp_http_client(auth=auth) as http:
        async with streamable_http_client(server.url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                weather = await session.call_tool("get_weather", {"location": "Paris"})
                # read_file needs files:read: a 403 insufficient_scope, a step-up sign-in, then the answer.
                todo = await session.call_tool("read_file", {"path": "todo.txt"})
    assert "get_weather" in {t.name for t in tools.tools}
    assert not weather.is_error and "Paris" in weather.content[0].text
    assert not todo.is_error, todo
    assert len(browser.urls) == 2, "one sign-in, one step-up"

    # The tokens are in superdynamic's store: the package's own client uses them without a sign-in.
    again = StandInBrowser()
    with superdynamic.Client(server.url, store="file", store_path=store_path, browser=again) as c:
        c.call_tool("get_weather", {"location": "Oslo"})
    assert again.urls == []
