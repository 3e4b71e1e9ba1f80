#!/usr/bin/env bash
# apidiff.sh: compare the exported API of the working tree with the last v*
# tag, and fail on an incompatible change.
#
# With no v* tag yet it says so and passes. Compatible changes (additions)
# are listed and pass. An intended break is accepted by listing apidiff's
# line for it in scripts/api-breaks.txt (reviewed like code; CHANGELOG.md
# says why under Changed or Removed); API_BREAK=ok lets every break pass
# for one run and API_BREAK=write rewrites that file from this run's list.
# The file is cleared when the next v* tag is made. The tool is
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
accepted="$root/scripts/api-breaks.txt"
if [ "${API_BREAK:-}" = write ]; then
	{
		echo "# Incompatible API changes against $tag that were made on purpose"
		echo "# (apidiff's lines; CHANGELOG.md says why). Written by API_BREAK=write."
		printf '%s\n' "$incompatible" | grep -v '^$' || true
	} >"$accepted"
	echo "apidiff: wrote $(grep -vc '^#' "$accepted" || true) accepted breaks to scripts/api-breaks.txt"
	exit 0
fi
if [ -n "$incompatible" ] && [ -f "$accepted" ]; then
	listed=$(printf '%s\n' "$incompatible" | grep -v '^$' | grep -vxF -f <(grep -v '^#' "$accepted") || true)
	if [ -z "$listed" ]; then
		echo "apidiff: $(printf '%s\n' "$incompatible" | grep -vc '^$') incompatible changes against $tag, each accepted in scripts/api-breaks.txt"
		incompatible=""
	else
		incompatible=$listed
	fi
fi
if [ -n "$incompatible" ]; then
	echo "apidiff: incompatible changes against $tag:"
	echo "$incompatible"
	if [ "${API_BREAK:-}" = ok ]; then
		echo "apidiff: API_BREAK=ok: accepted; say so under Changed or Removed in CHANGELOG.md"
		exit 0
	fi
	echo "apidiff: a v0 minor release may break the API only on purpose: say so in CHANGELOG.md and accept it in scripts/api-breaks.txt (API_BREAK=write)"
	exit 1
fi
if [ -n "$report" ]; then
	echo "apidiff: compatible changes against $tag:"
	echo "$report"
fi
echo "apidiff: no incompatible change against $tag"
