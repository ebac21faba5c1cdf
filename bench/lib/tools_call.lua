-- wrk: authenticated MCP tools/call, in an open session (initialize generation) or stateless (2026-07-28).
-- Environment: TOKEN, SESSION, PROTO (2026-07-28: stateless, no session), TOOL, ARGS (JSON object).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["MCP-Protocol-Version"] = os.getenv("PROTO")
local session = os.getenv("SESSION")
if session and session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
local meta = ""
if os.getenv("PROTO") == "2026-07-28" then
  -- the stateless generation: per-request _meta and the Mcp-Method/Mcp-Name headers, no session
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = os.getenv("TOOL")
  meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
    '"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}'
end
wrk.body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"' .. os.getenv("TOOL") ..
  '","arguments":' .. os.getenv("ARGS") .. meta .. '}}'

bad = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"', 1, true) then bad = bad + 1 end
  wrk.thread:set("bad", bad)
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
  io.write(string.format("BENCH bad=%d p50_us=%d p99_us=%d rps=%.1f\n", total,
    latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end
