"""The CLI and Python share one store: a sign-in in either serves the other."""

from __future__ import annotations

import json
import os
import subprocess

import superdynamic
from conftest import ROOT, StandInBrowser, _binary

CLI_BIN = _binary("superdynamic", "SUPERDYNAMIC_CLI_BIN")


def cli(store_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SUPERDYNAMIC_STORE": "file", "SUPERDYNAMIC_STORE_PATH": str(store_path)}
    env.pop("BROWSER", None)
    return subprocess.run([CLI_BIN, *args], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def no_sign_in(url: str) -> None:
    raise AssertionError(f"no sign-in was expected, but one opened {url}")


def test_a_cli_sign_in_serves_python_and_a_python_sign_in_serves_the_cli(start_server, store_path):
    server = start_server("--auto-approve")
    login = cli(store_path, "login", server.url, "--auto-authorize")
    assert login.returncode == 0, login.stderr
    with superdynamic.Client(server.url, store="file", store_path=store_path, browser=no_sign_in) as c:
        assert "Paris" in str(c.call_tool("get_weather", {"location": "Paris"})["content"])

    browser = StandInBrowser()
    with superdynamic.Client(server.url, profile="py", store="file", store_path=store_path, browser=browser) as c:
        c.login()
    assert len(browser.urls) == 1
    call = cli(
        store_path, "call", server.url, "get_weather", "--args", '{"location":"Oslo"}',
        "--profile", "py", "--non-interactive", "--json",
    )
    assert call.returncode == 0, call.stderr
    assert "Oslo" in json.loads(call.stdout)["content"][0]["text"]
    listed = cli(store_path, "clients", "--json")
    assert {r["profile"] for r in json.loads(listed.stdout)["credentials"]} == {"default", "py"}
