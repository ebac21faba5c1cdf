"""Peer for measurement 4: a Python SDK (PyPI `mcp`) MCP server with token verification, as a resource server
for the reference authorization server: it verifies the reference server's ES256 access tokens locally with the
JWKS (PyJWT), like the reference server itself does. One tool, get_weather.

    python py_server.py PORT ISSUER AUDIENCE
"""
import json
import sys
import time
import urllib.request

import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

port, issuer, audience = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with urllib.request.urlopen(f"{issuer}/jwks.json") as r:
    jwks = {k["kid"]: jwt.PyJWK(k) for k in json.load(r)["keys"]}


class JwtVerifier(TokenVerifier):
    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(token, jwks[kid], algorithms=["ES256"], issuer=issuer, audience=audience,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except Exception:
            return None
        return AccessToken(token=token, client_id=claims.get("client_id", ""), scopes=claims.get("scope", "").split(),
                           expires_at=claims["exp"], resource=audience, subject=claims["sub"])


server = MCPServer(
    "python-bench",
    token_verifier=JwtVerifier(),
    auth=AuthSettings(issuer_url=issuer, resource_server_url=f"http://127.0.0.1:{port}/mcp",
                      required_scopes=["mcp:tools"], validate_token_resource=False),
)


@server.tool()
def get_weather(location: str) -> str:
    """Current weather for a location (fixed demo data)."""
    return f"Weather in {location}: 18 C, light rain"


server.run("streamable-http", host="127.0.0.1", port=port)
