#!/usr/bin/env bash
# Try CI the way a clean machine sees it: a fresh clone of a committed ref in a new temporary
# folder, shared/ beside it, and `.ci/run` in a scrubbed environment (no venv, no PATH of yours).
# Usage: bash scripts/ci-fresh.sh [REF]   (REF defaults to HEAD; uncommitted changes are not tried)
# The clone (with its virtual environment, about a GB) is removed when CI passes, kept to look into when it fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-HEAD}
shared=$(cd "$repo/.." && pwd)/shared
work=$(mktemp -d /tmp/impasto-ci-fresh.XXXXXX)
git clone --quiet --no-hardlinks "$repo" "$work/main"
git -C "$work/main" checkout --quiet --detach "$ref"
[ -d "$shared" ] && ln -s "$shared" "$work/shared"
echo "fresh clone of $(git -C "$work/main" rev-parse --short HEAD) in $work/main" >&2
start=$(date +%s)
set +e
(cd "$work/main" && env -i HOME="$HOME" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  CI=true bash .ci/run)
status=$?
set -e
if [ "$status" -eq 0 ]; then
  rm -rf "$work"
  echo "ci-fresh: exit 0 after $(( $(date +%s) - start )) s" >&2
else
  echo "ci-fresh: exit $status after $(( $(date +%s) - start )) s (clone kept in $work)" >&2
fi
exit "$status"
