#!/usr/bin/env bash
# fuzz.sh GO FUZZTIME pkg:Target...: run each fuzz target for FUZZTIME.
#
# Go 1.26's fuzz coordinator sometimes reports "context deadline exceeded"
# at the -fuzztime boundary without any failing input (golang/go#75804,
# fixed in Go 1.27). A run that fails that way, and wrote no reproducer, is
# run once more; any other failure, or one that writes a failing input,
# fails at once.
set -uo pipefail
go=$1 fuzztime=$2
shift 2
for t in "$@"; do
	pkg=${t%%:*} name=${t##*:}
	for try in 1 2; do
		echo "fuzz $pkg $name ($fuzztime)"
		out=$("$go" test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
		rc=$?
		echo "$out"
		[ $rc -eq 0 ] && break
		if [ $try -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
			echo "fuzz $pkg $name: the Go 1.26 fuzz-deadline flake (golang/go#75804), no failing input; running it once more"
			continue
		fi
		exit $rc
	done
done
