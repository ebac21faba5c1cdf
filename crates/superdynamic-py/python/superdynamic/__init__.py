"""superdynamic: reach OAuth-protected MCP servers from Python.

``Client(url).call_tool(name, arguments)`` discovers the authorization server, registers, signs in (once), keeps
the tokens in the same store as the ``superdynamic`` command, refreshes them and steps up when a tool needs more
scope. ``AsyncClient`` does the same for asyncio; ``httpx_auth(url)`` gives the official MCP SDK's transport the
same sign-in and tokens.
"""

from ._client import AsyncClient, Client
from ._httpx import httpx_auth
from ._native import (
    AuthorizationError,
    DiscoveryError,
    RegistrationError,
    StoreError,
    SuperdynamicError,
    ToolError,
    TransportError,
    UsageError,
    __version__,
)

__all__ = [
    "AsyncClient",
    "AuthorizationError",
    "Client",
    "DiscoveryError",
    "RegistrationError",
    "StoreError",
    "SuperdynamicError",
    "ToolError",
    "TransportError",
    "UsageError",
    "__version__",
    "httpx_auth",
]
