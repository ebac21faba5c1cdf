"""Opens an MCP session (initialize generation) with a bearer token and prints {"session": ..., "protocol": ...}
as JSON; then checks one tools/call answers with a result (not an error). Standard library only.

    python3 mcp_session.py URL TOKEN TOOL ARGS_JSON
"""
import json
import sys
import urllib.request

PROTOCOL = "2025-06-18"
url, token, tool, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])


def post(message, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {token}", "MCP-Protocol-Version": PROTOCOL}
    if session:
        headers["Mcp-Session-Id"] = session
    req = urllib.request.Request(url, data=json.dumps(message).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read().decode()
        sid = r.headers.get("Mcp-Session-Id")
    if body.lstrip().startswith("{"):
        return sid, json.loads(body)
    for line in body.splitlines():  # SSE: the first data line that is a JSON-RPC response
        if line.startswith("data:") and line[5:].strip():
            data = json.loads(line[5:])
            if "id" in data:
                return sid, data
    return sid, None


sid, init = post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
post({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
_, res = post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}}, sid)
if not res or "result" not in res or res["result"].get("isError"):
    sys.exit(f"tools/call check failed: {res}")
print(json.dumps({"session": sid, "protocol": init["result"]["protocolVersion"]}))
