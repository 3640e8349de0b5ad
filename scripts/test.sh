#!/bin/bash
# npm test: the suite in a temporary folder of its own, removed at the end whatever the outcome. The
# tests' runs, checkpoints and data sets (a few GB in all) would otherwise stay in /tmp after each run.
set -euo pipefail
dir=$(mktemp -d "${TMPDIR:-/tmp}/dml-test-XXXXXX")
trap 'rm -rf "$dir"' EXIT
if [ $# -eq 0 ]; then set -- dist/test/; fi
TMPDIR="$dir" node --test --test-concurrency=2 "$@"
