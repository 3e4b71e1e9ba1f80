#!/bin/sh
# ensure-chromium.sh prints the path of a usable Chromium on stdout.
#
# It looks for chromium on PATH (and at /usr/bin/chromium). When none is found
# and the script runs as root, it installs the Debian package "chromium" with
# apt-get, quietly (apt output goes to stderr only on failure). Otherwise it
# exits non-zero with a message on stderr saying what to do.
#
# Run by `make test` (target test-unit) before `go test`, which sets
# IW_BROWSER_TESTS=1: the browser tests (host/statushub TestPageInBrowser,
# test/e2e TestStatusPageShowsJobsInBrowser) then fail, not skip, without
# Chromium. `go test` itself never installs anything.
set -eu

find_chromium() {
	for c in "$(command -v chromium 2>/dev/null || true)" /usr/bin/chromium; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			printf '%s\n' "$c"
			return 0
		fi
	done
	return 1
}

if find_chromium; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "ensure-chromium: chromium not found and not running as root; install it with: sudo apt-get install -y chromium" >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-chromium: chromium not found and apt-get is not available; install Chromium and put it on PATH as 'chromium'" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "ensure-chromium: 'apt-get install chromium' failed (output above)" >&2
	exit 1
fi

if find_chromium; then
	exit 0
fi
echo "ensure-chromium: installed the chromium package but no chromium binary was found on PATH" >&2
exit 1
