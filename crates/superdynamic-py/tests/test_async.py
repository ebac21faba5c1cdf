"""AsyncClient: concurrent calls on one client, and the event loop keeps running while they wait."""

from __future__ import annotations

import asyncio

import pytest

import superdynamic
from conftest import StandInBrowser


@pytest.mark.asyncio
async def test_concurrent_calls_share_one_sign_in_and_never_block_the_loop(server, store_path):
    browser = StandInBrowser()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    running = asyncio.ensure_future(ticker())
    async with superdynamic.AsyncClient(server.url, store="file", store_path=store_path, browser=browser) as c:
        cities = ["Paris", "Oslo", "Lima", "Cairo", "Quito", "Perth", "Accra", "Hanoi"]
        results = await asyncio.gather(*(c.call_tool("get_weather", {"location": city}) for city in cities))
        tools = await c.list_tools()
    running.cancel()
    assert len(browser.urls) == 1, "the concurrent calls waited for one sign-in"
    for city, result in zip(cities, results):
        assert city in str(result["content"]), result
    assert "get_weather" in {t["name"] for t in tools}
    assert ticks > 5, "the event loop ran while the sign-in and the calls were under way"


@pytest.mark.asyncio
async def test_async_errors_are_the_same_exceptions(server, store_path):
    async with superdynamic.AsyncClient(server.url, store="file", store_path=store_path, browser=StandInBrowser()) as c:
        with pytest.raises(superdynamic.ToolError, match="tool not found"):
            await c.call_tool("no_such_tool", {})
        assert (await c.logout())["removed"] is True
