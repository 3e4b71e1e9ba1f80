#!/usr/bin/env bash
# apidiff.sh: compare the exported API of the working tree with the last v*
# tag, and fail on an incompatible change.
#
# With no v* tag yet it says so and passes. Compatible changes (additions)
# are listed and pass. API_BREAK=ok lets an intended break pass (a v0 minor
# release may break the API; CHANGELOG.md must say so). The tool is
# golang.org/x/exp/cmd/apidiff, run with `go run module@version` (pinned by
# APIDIFF), so nothing needs installing.
# The tag's tree is exported with `git archive` into a temporary directory:
# the repository is not changed. internal/ packages are not compared.
set -euo pipefail

GO=${GO:-go}
APIDIFF=${APIDIFF:-golang.org/x/exp/cmd/apidiff@v0.0.0-20261113113407-e3970619a1a4}

root=$(git rev-parse --show-toplevel)
cd "$root"
module=$($GO list -m)

tag=$(git tag --list 'v*' --sort=-v:refname | head -n 1)
if [ -z "$tag" ]; then
	echo "apidiff: no v* tag yet, nothing to compare against"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/old"
git archive --format=tar "$tag" | tar -x -C "$tmp/old"
# apidiff runs the pinned tool; its notes on skipped internal packages are
# dropped, anything else it prints on stderr is shown when it fails.
apidiff() {
	if ! $GO run "$APIDIFF" "$@" 2>"$tmp/stderr"; then
		grep -v '^Ignoring internal package' "$tmp/stderr" >&2
		return 1
	fi
}

(cd "$tmp/old" && apidiff -m -w "$tmp/old.api" "$module")
apidiff -m -w "$tmp/new.api" "$module"

report=$(apidiff -m "$tmp/old.api" "$tmp/new.api")
incompatible=$(apidiff -m -incompatible "$tmp/old.api" "$tmp/new.api")
if [ -n "$incompatible" ]; then
	echo "apidiff: incompatible changes against $tag:"
	echo "$incompatible"
	if [ "${API_BREAK:-}" = ok ]; then
		echo "apidiff: API_BREAK=ok: accepted; say so under Changed or Removed in CHANGELOG.md"
		exit 0
	fi
	echo "apidiff: a v0 minor release may break the API only on purpose: say so in CHANGELOG.md and run with API_BREAK=ok"
	exit 1
fi
if [ -n "$report" ]; then
	echo "apidiff: compatible changes against $tag:"
	echo "$report"
fi
echo "apidiff: no incompatible change against $tag"
