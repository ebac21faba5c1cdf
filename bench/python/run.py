"""Python package benchmark: a warm list-and-call program on superdynamic vs the same program on the official
Python SDK (`mcp`) with its own OAuthClientProvider; wall time and peak memory of each whole process.

    target/pyvenv/bin/python bench/python/run.py [RUNS]     (after .ci/python, or with the package installed)

Both programs get a valid stored token: superdynamic signs in once (reference server with --auto-approve), and
the SDK's token file is written from the same sign-in. Runs alternate (ours, SDK, ours, …) after a warm-up.
Writes the "Python package" section of bench/RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
SERVER = os.environ.get("SUPERDYNAMIC_SERVER_BIN") or str(ROOT / "target" / "release" / "superdynamic-server")
if not os.path.exists(SERVER):
    SERVER = str(ROOT / "target" / "debug" / "superdynamic-server")
TOOL, ARGS = "get_weather", '{"location":"Paris"}'


def measure(cmd: list) -> tuple:
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    out, err = child.stdout.read(), child.stderr.read()
    if status != 0 or b"Paris" not in out:
        raise RuntimeError(f"{cmd[1]} failed: {err.decode()[-400:]}")
    return wall * 1000, usage.ru_maxrss / 1024  # ms, MB (ru_maxrss is KiB on Linux)


def main() -> None:
    import superdynamic

    server = subprocess.Popen([SERVER, "--port", "0", "--db", ":memory:", "--auto-approve"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = next(line.split("MCP endpoint ", 1)[1].strip() for line in server.stderr if "MCP endpoint " in line)
        work = Path(tempfile.mkdtemp())
        store = work / "store" / "credentials.json"
        # --auto-approve: the authorization URL redirects straight to the client's listener.
        with superdynamic.Client(url, store="file", store_path=store,
                                 browser=lambda u: urllib.request.urlopen(u, timeout=10).read()) as c:
            c.login()
        record = json.loads(store.read_text())["credentials"][0]
        tokens, registration = record["tokens"], record["registration"]
        token_file = work / "sdk-token.json"
        token_file.write_text(json.dumps({
            "tokens": {"access_token": tokens["access_token"], "token_type": "Bearer",
                       "refresh_token": tokens.get("refresh_token"), "scope": tokens.get("scope")},
            "client_info": {"client_id": registration["client_id"],
                            "redirect_uris": ["http://127.0.0.1:1/callback"], "client_name": "bench"},
        }))
        programs = {
            "superdynamic package": [sys.executable, str(BENCH / "python" / "sd_client.py"), url, str(store), TOOL, ARGS],
            "Python SDK + OAuthClientProvider": [sys.executable, str(BENCH / "peers" / "py_client.py"), url,
                                                 str(token_file), TOOL, ARGS],
        }
        samples = {name: ([], []) for name in programs}
        for i in range(RUNS + 2):
            for name, cmd in programs.items():
                wall, rss = measure(cmd)
                if i >= 2:
                    samples[name][0].append(wall)
                    samples[name][1].append(rss)
    finally:
        server.terminate()
        server.wait(timeout=10)
    write(samples)


def write(samples: dict) -> None:
    ours, sdk = samples["superdynamic package"], samples["Python SDK + OAuthClientProvider"]
    med = statistics.median
    import mcp  # noqa: F401
    from importlib.metadata import version

    lines = [
        "## Python package: warm list + call (bench/python/run.py)", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {RUNS} runs each after 2 warm-ups, "
        f"alternating; Python {platform.python_version()}, mcp {version('mcp')}, server `{Path(SERVER).parent.name}` "
        "build. Whole process: interpreter start, import, list the tools, call one, close. Peak memory is the "
        "process's maximum resident set size.", "",
        "| program | wall time median (min–max) | peak memory median |", "|---|---:|---:|",
    ]
    for name, (walls, rss) in samples.items():
        lines.append(f"| {name} | {med(walls):.0f} ms ({min(walls):.0f}–{max(walls):.0f}) | {med(rss):.1f} MB |")
    lines += ["", f"Ratio (SDK / superdynamic): wall time {med(sdk[0]) / med(ours[0]):.1f}×, "
                  f"peak memory {med(sdk[1]) / med(ours[1]):.1f}×.", ""]
    section = "\n".join(lines)
    print(section)
    results = BENCH / "RESULTS.md"
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    head = text.split("## Python package: warm list + call", 1)[0].rstrip("\n")
    results.write_text(head + "\n\n" + section)


if __name__ == "__main__":
    main()
