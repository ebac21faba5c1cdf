#!/usr/bin/env bash
# BROWSER program for the CLI test: hands the URL to the Chromium driver.
exec node "$(dirname "$0")/browser.mjs" "$@"
