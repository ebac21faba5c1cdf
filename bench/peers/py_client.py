"""Peer for measurement 1: the official Python SDK client (PyPI `mcp`), minimal: connect with a stored token
(an OAuthClientProvider whose TokenStorage reads a JSON file), list the tools, call one, print the result.

    python py_client.py URL TOKEN_FILE TOOL ARGS_JSON
TOKEN_FILE: {"tokens": {...OAuthToken...}, "client_info": {...OAuthClientInformationFull...}}
"""
import asyncio
import json
import sys

import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class FileTokenStorage(TokenStorage):
    def __init__(self, path: str) -> None:
        self.path = path
        with open(path) as f:
            self.doc = json.load(f)

    async def get_tokens(self) -> OAuthToken | None:
        return OAuthToken.model_validate(self.doc["tokens"])

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.doc["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        with open(self.path, "w") as f:
            json.dump(self.doc, f)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return OAuthClientInformationFull.model_validate(self.doc["client_info"])

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.doc["client_info"] = client_info.model_dump(mode="json", exclude_none=True)


async def main() -> None:
    url, token_file, tool, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(redirect_uris=["http://127.0.0.1:1/callback"], client_name="bench"),
        storage=FileTokenStorage(token_file),
    )
    async with httpx2.AsyncClient(auth=auth) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            tools = await client.list_tools()
            result = await client.call_tool(tool, args)
            print(len(tools.tools), "tools;", result.content[0].text if result.content else result)


asyncio.run(main())
