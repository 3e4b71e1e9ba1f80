#!/bin/sh
# setup.sh prepares a Wine prefix that runs Go 1.26 Windows binaries and
# prints its path on stdout (for WINEPREFIX).
#
# Debian's Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng the Go
# runtime (1.24 and later) loads at start-up: without it every binary stops
# with "bcryptprimitives.dll not found". The shim in bcryptprimitives.c
# answers ProcessPrng with RtlGenRandom; it is built with mingw-w64 and put
# into the prefix's system32 (the Go runtime loads it from there only).
#
# When wine or x86_64-w64-mingw32-gcc is missing and the script runs as
# root, it installs the Debian packages wine, wine64 and
# gcc-mingw-w64-x86-64 with apt-get. Otherwise it exits non-zero saying
# what to do.
#
# The prefix is IW_WINEPREFIX, by default $HOME/.cache/isolated-workers/wine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${IW_WINEPREFIX:-${HOME:-/tmp}/.cache/isolated-workers/wine}

if ! command -v wine >/dev/null 2>&1 || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "wine setup: wine or mingw-w64 missing and not root; install them with: sudo apt-get install -y wine wine64 gcc-mingw-w64-x86-64" >&2
		exit 1
	fi
	log=$(mktemp)
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wine wine64 gcc-mingw-w64-x86-64; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "wine setup: apt-get install wine wine64 gcc-mingw-w64-x86-64 failed (above)" >&2
		exit 1
	fi
	rm -f "$log"
fi

dll=$prefix/drive_c/windows/system32/bcryptprimitives.dll
if [ ! -f "$prefix/system.reg" ]; then
	mkdir -p "$prefix"
	WINEPREFIX=$prefix WINEDEBUG=-all wineboot -i >/dev/null 2>&1 || true
	WINEPREFIX=$prefix wineserver -w 2>/dev/null || true
fi
if [ ! -f "$dll" ] || [ "$here/bcryptprimitives.c" -nt "$dll" ]; then
	x86_64-w64-mingw32-gcc -shared -O2 -Wl,--kill-at -o "$dll" "$here/bcryptprimitives.c" -ladvapi32
fi
printf '%s\n' "$prefix"
