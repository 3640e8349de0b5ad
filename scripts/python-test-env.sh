#!/usr/bin/env bash
# The tests' Python: a venv at .cache/python-test with PyTorch's CPU wheel of the version the addon fetches
# (scripts/libtorch.cjs), so that torchrun's store speaks the same c10d protocol as the addon's libtorch.
# Prints nothing when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/python-test
version="$(node scripts/libtorch.cjs wheel-version)"
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "setup: making $venv (torch==$version, for torchrun in the tests)"
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-input --retries 1 "torch==$version"
