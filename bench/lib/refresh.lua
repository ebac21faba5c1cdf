-- wrk: refresh_token grants at /token, one rotating refresh-token chain per thread (run with -t N -c N: one
-- connection per thread, so a thread never sends a token twice; reuse would revoke the family).
-- Environment: CHAINS = a file of "client_id refresh_token" lines, at least as many as threads.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local chains = {}
for line in io.lines(os.getenv("CHAINS")) do
  local cid, rt = line:match("^(%S+)%s+(%S+)$")
  if cid then table.insert(chains, { cid, rt }) end
end
local threads, n = {}, 0
function setup(thread)
  n = n + 1
  thread:set("cid", chains[n][1])
  thread:set("rt", chains[n][2])
  table.insert(threads, thread)
end
local function enc(s) return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)) end
bad = 0
function request()
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id=" .. enc(cid) .. "&refresh_token=" .. enc(rt))
end
function response(status, headers, body)
  local new = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if status == 200 and new then rt = new else bad = bad + 1 end
  wrk.thread:set("bad", bad)
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
  io.write(string.format("BENCH bad=%d p50_us=%d p99_us=%d rps=%.1f\n", total,
    latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end
