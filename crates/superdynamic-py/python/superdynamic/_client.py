"""The typed clients over the native module: ``Client`` blocks (with the GIL released), ``AsyncClient`` awaits."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _native
from ._native import ToolError

Browser = Union[bool, Callable[[str], Any]]


def _native_client(
    server_url: str,
    profile: str,
    store: str,
    store_path: Union[str, "os.PathLike[str]", None],
    database_url: Optional[str],
    scopes: Union[str, Sequence[str], None],
    client_id: Optional[str],
    client_secret: Optional[str],
    browser: Browser,
    flow: str,
    timeout: float,
    auth_timeout: float,
    callback_port: Optional[int],
) -> _native.NativeClient:
    if scopes is not None and not isinstance(scopes, str):
        scopes = " ".join(scopes)
    return _native.NativeClient(
        server_url,
        profile=profile,
        store=store,
        store_path=os.fspath(store_path) if store_path is not None else None,
        database_url=database_url,
        scopes=scopes,
        client_id=client_id,
        client_secret=client_secret,
        browser=browser,
        flow=flow,
        timeout=float(timeout),
        auth_timeout=float(auth_timeout),
        callback_port=callback_port,
    )


def _checked(name: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """The MCP result, or ToolError when the tool reported an error (MCP server/tools: ``isError``)."""
    if result.get("isError"):
        texts = [c.get("text", "") for c in result.get("content", []) if c.get("type") == "text"]
        detail = ": " + " ".join(t for t in texts if t) if any(texts) else ""
        error = ToolError(f"the tool '{name}' reported an error{detail}")
        error.result = result  # type: ignore[attr-defined]
        raise error
    return result


class Client:
    """One MCP server, blocking calls. Signs in on first need; see the README's "From Python"."""

    def __init__(
        self,
        server_url: str,
        *,
        profile: str = "default",
        store: str = "auto",
        store_path: Union[str, "os.PathLike[str]", None] = None,
        database_url: Optional[str] = None,
        scopes: Union[str, Sequence[str], None] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        browser: Browser = True,
        flow: str = "browser",
        timeout: float = 60.0,
        auth_timeout: float = 300.0,
        callback_port: Optional[int] = None,
    ) -> None:
        self._native = _native_client(
            server_url, profile, store, store_path, database_url, scopes, client_id, client_secret,
            browser, flow, timeout, auth_timeout, callback_port,
        )

    @property
    def server(self) -> str:
        return self._native.server

    def login(self) -> Dict[str, Any]:
        return self._native.login()

    def logout(self, keep_registration: bool = False) -> Dict[str, Any]:
        return self._native.logout(keep_registration)

    def list_tools(self) -> List[Dict[str, Any]]:
        return self._native.list_tools()

    def call_tool(self, name: str, arguments: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return _checked(name, self._native.call_tool(name, arguments))

    def refresh(self) -> Dict[str, Any]:
        return self._native.refresh()

    def clients(self) -> Dict[str, Any]:
        return self._native.clients()

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """As ``Client``, with coroutines that run on superdynamic's own threads: the event loop never blocks."""

    def __init__(
        self,
        server_url: str,
        *,
        profile: str = "default",
        store: str = "auto",
        store_path: Union[str, "os.PathLike[str]", None] = None,
        database_url: Optional[str] = None,
        scopes: Union[str, Sequence[str], None] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        browser: Browser = True,
        flow: str = "browser",
        timeout: float = 60.0,
        auth_timeout: float = 300.0,
        callback_port: Optional[int] = None,
    ) -> None:
        self._native = _native_client(
            server_url, profile, store, store_path, database_url, scopes, client_id, client_secret,
            browser, flow, timeout, auth_timeout, callback_port,
        )

    @property
    def server(self) -> str:
        return self._native.server

    async def login(self) -> Dict[str, Any]:
        return await self._native.login(asynchronous=True)

    async def logout(self, keep_registration: bool = False) -> Dict[str, Any]:
        return await self._native.logout(keep_registration, asynchronous=True)

    async def list_tools(self) -> List[Dict[str, Any]]:
        return await self._native.list_tools(asynchronous=True)

    async def call_tool(self, name: str, arguments: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return _checked(name, await self._native.call_tool(name, arguments, asynchronous=True))

    async def refresh(self) -> Dict[str, Any]:
        return await self._native.refresh(asynchronous=True)

    async def clients(self) -> Dict[str, Any]:
        return await self._native.clients(asynchronous=True)

    async def close(self) -> None:
        await self._native.close(asynchronous=True)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
