#!/usr/bin/env python3
"""Drives a stdio MCP proxy (or calls the server directly) and prints measurements as one JSON line.

proxy mode:  proxy_driver.py proxy CALLS BURST -- COMMAND...
direct mode: proxy_driver.py direct CALLS URL TOKEN_FILE
"""
import http.client, json, re, socket, subprocess, sys, time, urllib.parse

INIT = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
CALL = {"name": "get_weather", "arguments": {"location": "Paris"}}


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else None


def vmhwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None


def proxy(calls, burst, cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    out = p.stdout

    def send(msg):
        p.stdin.write((json.dumps(msg) + "\n").encode())
        p.stdin.flush()

    def wait_id(i, deadline=60):
        end = time.perf_counter() + deadline
        while time.perf_counter() < end:
            line = out.readline()
            if not line:
                raise SystemExit(f"proxy closed stdout while waiting for id {i}")
            m = json.loads(line)
            if m.get("id") == i and "method" not in m:
                if "error" in m:
                    raise SystemExit(f"error for id {i}: {m['error']}")
                return m
        raise SystemExit(f"timeout waiting for id {i}")

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT})
    wait_id(0)
    first = (time.perf_counter() - t0) * 1000
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    lat = []
    for i in range(1, calls + 1):
        s = time.perf_counter()
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": CALL})
        wait_id(i)
        lat.append((time.perf_counter() - s) * 1000)
    s = time.perf_counter()
    base = calls + 1
    data = "".join(json.dumps({"jsonrpc": "2.0", "id": base + k, "method": "tools/call", "params": CALL}) + "\n"
                   for k in range(burst))
    p.stdin.write(data.encode())
    p.stdin.flush()
    seen = 0
    while seen < burst:
        line = out.readline()
        if not line:
            raise SystemExit("proxy closed stdout during the burst")
        m = json.loads(line)
        if "id" in m and "method" not in m:
            seen += 1
    rate = burst / (time.perf_counter() - s)
    hwm = vmhwm_kb(p.pid)
    p.stdin.close()
    try:
        code = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        code = "killed"
    return {"first_ms": first, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "msgs_per_s": rate,
            "peak_mb": hwm / 1024 if hwm else None, "exit": code}


def complete(response):
    """Whether `response` holds a whole HTTP response: Content-Length bytes of body, or the last chunk."""
    head_end = response.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    length = re.search(rb"(?im)^content-length: *(\d+)", response[:head_end])
    if length:
        return len(response) >= head_end + 4 + int(length.group(1))
    return response.endswith(b"\r\n0\r\n\r\n")


def direct(calls, url, token_file):
    token = open(token_file).read().strip()
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.connect()
    # http.client writes headers and body separately: without this, Nagle + delayed ACK add ~40 ms per call.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}

    def post(msg, extra=None):
        # The server writes an SSE response in several small writes; acknowledge at once (no 40 ms delayed ACK),
        # as reqwest/hyper effectively do.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        conn.request("POST", u.path, json.dumps(msg), {**headers, **(extra or {})})
        r = conn.getresponse()
        body = r.read()
        return r, body

    r, _ = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT})
    sid = r.getheader("mcp-session-id")
    extra = {"mcp-protocol-version": "2025-06-18"}
    if sid:
        extra["mcp-session-id"] = sid
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, extra)
    lat = []
    sock = conn.sock
    hdr = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **extra}.items())
    for i in range(1, calls + 1):
        body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": CALL})
        req = f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n{hdr}Content-Length: {len(body)}\r\n\r\n{body}"
        s = time.perf_counter()
        sock.sendall(req.encode())
        got, seen = b"", None
        needle = f'"id":{i},'.encode()
        while not complete(got):
            # Acknowledge at once, as hyper-based clients effectively do: no 40 ms delayed ACK against the
            # server's small writes.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("the server closed the connection")
            got += chunk
            if seen is None and needle in got:
                seen = time.perf_counter()
        if seen is None or b"Paris" not in got:
            raise SystemExit(f"direct call failed: {got[:300]!r}")
        lat.append((seen - s) * 1000)
    if sid:
        conn.request("DELETE", u.path, headers={**headers, **extra})
        conn.getresponse().read()
    return {"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "proxy":
        sep = sys.argv.index("--")
        print(json.dumps(proxy(int(sys.argv[2]), int(sys.argv[3]), sys.argv[sep + 1:])))
    else:
        print(json.dumps(direct(int(sys.argv[2]), sys.argv[3], sys.argv[4])))
