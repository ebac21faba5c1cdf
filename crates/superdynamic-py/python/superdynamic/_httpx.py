"""An httpx Auth for the official MCP SDK's transport (``streamablehttp_client(url, auth=...)``): superdynamic's
discovery, registration, sign-in, stores, cross-process refresh and step-up in place of the SDK's
``OAuthClientProvider``. The SDK 1.x uses httpx, 2.x its fork httpx2: the object is an Auth of both."""

from __future__ import annotations

from typing import Any, AsyncGenerator, Generator, List, Optional, Tuple, Type

from ._client import _native_client

# A sign-in, then a step-up, then one more: past that the server will not be satisfied.
_MAX_ATTEMPTS = 4


def _auth_bases() -> Tuple[Type[Any], ...]:
    bases: List[Type[Any]] = []
    for module in ("httpx", "httpx2"):
        try:
            bases.append(__import__(module).Auth)
        except ImportError:
            pass
    if not bases:
        raise ImportError("superdynamic.httpx_auth needs httpx (pip install httpx) or the MCP SDK's httpx2")
    return tuple(bases)


class _SuperdynamicAuth:
    requires_request_body = True  # the request may be sent again after a sign-in

    def __init__(self, native: Any) -> None:
        self._native = native

    def _challenged(self, response: Any) -> Optional[Tuple[int, List[str]]]:
        if response.status_code not in (401, 403):
            return None
        return response.status_code, response.headers.get_list("www-authenticate")

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        token = self._native.bearer_token()
        for _ in range(_MAX_ATTEMPTS):
            if token:
                request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            challenge = self._challenged(response)
            if challenge is None or not self._native.answer_challenge(*challenge, token):
                return
            response.read()
            token = self._native.bearer_token()

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        token = await self._native.bearer_token(asynchronous=True)
        for _ in range(_MAX_ATTEMPTS):
            if token:
                request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            challenge = self._challenged(response)
            if challenge is None or not await self._native.answer_challenge(*challenge, token, asynchronous=True):
                return
            await response.aread()
            token = await self._native.bearer_token(asynchronous=True)


def httpx_auth(
    server_url: str,
    *,
    profile: str = "default",
    store: str = "auto",
    store_path: Any = None,
    database_url: Optional[str] = None,
    scopes: Any = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    browser: Any = True,
    flow: str = "browser",
    timeout: float = 60.0,
    auth_timeout: float = 300.0,
    callback_port: Optional[int] = None,
) -> Any:
    """An ``httpx.Auth`` (and ``httpx2.Auth``) signing requests to ``server_url`` with superdynamic's tokens."""
    auth_class = type("SuperdynamicAuth", (_SuperdynamicAuth,) + _auth_bases(), {})
    native = _native_client(
        server_url, profile, store, store_path, database_url, scopes, client_id, client_secret,
        browser, flow, timeout, auth_timeout, callback_port,
    )
    return auth_class(native)
