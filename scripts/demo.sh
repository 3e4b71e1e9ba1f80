#!/usr/bin/env bash
# demo.sh: build examples and run them, then print a one-screen summary.
#
#   scripts/demo.sh                 every example (what `make demo` runs)
#   scripts/demo.sh logging tracing only these (what `make example-NAME` runs)
#
# Every host is built by ONE `go build -o bin/ ...` invocation: it compiles
# the library and every dependency once, in parallel, into one build cache,
# and links the hosts in parallel. The workers cannot join that invocation
# (each is a package named "worker", and `go build -o DIR` names a binary
# after its package), so they are linked next, two at a time, from the
# cache the first step filled: bin/NAME-worker. Each example then runs as
# its built binary (`bin/NAME -worker bin/NAME-worker`), never `go run`.
#
# Environment: GO (default go), BIN (default bin), DEMO_TIMEOUT (bound on
# one example, default 120s), DEMO_JOBS (parallel worker links, default 2),
# DEMO_RUN=0 (build only), LDFLAGS (default -s -w).
set -uo pipefail

GO=${GO:-go}
BIN=${BIN:-bin}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-120s}
DEMO_JOBS=${DEMO_JOBS:-2}
DEMO_RUN=${DEMO_RUN:-1}
# Demo binaries need no symbol table or DWARF: leaving them out halves the
# link time of each.
LDFLAGS=${LDFLAGS:--s -w}

# The order the demo runs them in: first steps, then each configuration
# feature, then streams, then pools, then the job system.
ALL=(basic-ping bidirectional middleware serializers reattach reconnect logging tracing stream pool jobs)
declare -A WHAT=(
	[basic-ping]="launch, typed calls, raw bytes, errors, cancel, panic, crash"
	[bidirectional]="calls from the worker back to the host: a counter whose storage lives in the host"
	[middleware]="host and worker chains, their order, trace headers, a failing middleware on each side"
	[serializers]="MessagePack, a custom serializer, terminator, name-collision and mismatch errors"
	[reattach]="a detached worker outlives its host; a second host attaches and gets its logs"
	[reconnect]="Disconnect and Reconnect, the dial retry policy, HostConnectTimeout, ExitOnDisconnect vs KeepAlive"
	[logging]="worker records in a log/slog logger, LogLevel, call timeouts per message"
	[tracing]="OpenTelemetry: one trace crosses the process boundary, both sides' spans on stdout"
	[stream]="a streaming call: 200,000 lines of a generated file with progress events, checksum, early break"
	[pool]="a supervised pool under load: kills, a frozen worker, a rolling upgrade, Prometheus metrics"
	[jobs]="a durable queue (embedded NATS JetStream) over a worker pool, dead letters kept across runs, live status"
)

cd "$(dirname "$0")/.." || exit 1

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for n in "${names[@]}"; do
	if [ -z "${WHAT[$n]+x}" ]; then
		echo "demo: no example $n (have: ${ALL[*]})" >&2
		exit 2
	fi
done

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

mkdir -p "$BIN"
t0=$(now)

# 1. Hosts, one invocation. -v names each package as it is compiled: that
# is the progress line (a cold build compiles a few hundred).
hosts=()
for n in "${names[@]}"; do hosts+=("./examples/$n"); done
bold "== build: ${#names[@]} hosts in one go build, then their workers (bin/)"
buildlog="$BIN/.demo-build.log"
: >"$buildlog"
count=0
# Each package line moves the counter; anything else (a compile error) is
# kept for the report.
$GO build -v -ldflags="$LDFLAGS" -o "$BIN/" "${hosts[@]}" 2>&1 | {
	while IFS= read -r line; do
		case $line in
		'#'* | *': '* | *' '*) echo "$line" >>"$buildlog" ;;
		*)
			count=$((count + 1))
			if [ -t 1 ]; then
				printf '\r   compiled %d packages (%s)' "$count" "$(since "$t0")"
			elif [ $((count % 50)) = 0 ]; then
				echo "   compiled $count packages ($(since "$t0"))"
			fi
			;;
		esac
	done
	[ -t 1 ] && printf '\r\033[K'
	echo "$count" >"$BIN/.demo-count"
}
rc=${PIPESTATUS[0]}
count=$(cat "$BIN/.demo-count")
rm -f "$BIN/.demo-count"
if [ "$rc" -ne 0 ]; then
	cat "$buildlog" >&2
	echo "demo: go build of the hosts failed" >&2
	exit 1
fi
echo "   compiled $count packages (0 means all were in the build cache), linked ${#names[@]} hosts: $(since "$t0")"

# 2. Workers, linked from the cache, DEMO_JOBS at a time.
t1=$(now)
if ! printf '%s\n' "${names[@]}" |
	xargs -P "$DEMO_JOBS" -I{} sh -c '"$0" build -ldflags="$2" -o "$1/{}-worker" ./examples/{}/worker && echo "   built $1/{}-worker"' "$GO" "$BIN" "$LDFLAGS"; then
	echo "demo: go build of the workers failed" >&2
	exit 1
fi
build_time=$(since "$t0")
echo "   workers: $(since "$t1"); build total: $build_time"

[ "$DEMO_RUN" = 0 ] && exit 0

# 3. Run each example's built host against its built worker.
results=()
failed=0
for n in "${names[@]}"; do
	echo
	bold "== $n: ${WHAT[$n]}"
	t=$(now)
	timeout "$DEMO_TIMEOUT" "$BIN/$n" -worker "$BIN/$n-worker"
	rc=$?
	took=$(since "$t")
	case $rc in
	0) results+=("$(printf '  %-12s ok      %8s' "$n" "$took")") ;;
	124) results+=("$(printf '  %-12s FAILED  %8s  (no end after %s)' "$n" "$took" "$DEMO_TIMEOUT")"); failed=$((failed + 1)) ;;
	*) results+=("$(printf '  %-12s FAILED  %8s  (exit status %d)' "$n" "$took" "$rc")"); failed=$((failed + 1)) ;;
	esac
done

echo
bold "== summary"
printf '  %-12s %-7s %8s\n' example result time
printf '  %-12s %-7s %8s\n' build ok "$build_time"
printf '%s\n' "${results[@]}"
printf '  %-12s %-7s %8s\n' total "" "$(since "$t0")"
if [ $failed -gt 0 ]; then
	echo "demo: $failed example(s) failed; their output is above"
	exit 1
fi
echo "demo: every example ran to completion (the errors they print are planned demonstrations)"
