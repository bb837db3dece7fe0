#!/usr/bin/env bash
# Dagster and Stemma side by side: installs the pinned Dagster in a venv outside the repository
# ($STEMMA_PEER_VENV, default ~/.cache/stemma/dagster-venv), builds Stemma's generated code
# location in release mode, and runs the scenarios alternately. Arguments go to harness.py
# (--scenario NAME, --pairs N, --write-markdown benches/RESULTS.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${STEMMA_PEER_VENV:-$HOME/.cache/stemma/dagster-venv}"
if [ ! -x "$venv/bin/dagster" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --requirement "$here/requirements.txt"
fi
target="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --quiet --release -p stemma-benches --bin peer_location)
exec "$venv/bin/python" "$here/harness.py" --stemma "$target/release/peer_location" --venv "$venv" "$@"
