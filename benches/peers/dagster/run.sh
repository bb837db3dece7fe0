#!/usr/bin/env bash
# Dagster and Stemma side by side: installs the pinned Dagster in a venv outside the repository
# ($STEMMA_PEER_VENV, default ~/.cache/stemma/dagster-venv), builds Stemma's generated code
# location and the demo code location (`assets`) in release mode, and runs the scenarios
# alternately.
# Arguments go to harness.py (--scenario NAME, --pairs N, --write-markdown benches/RESULTS.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${STEMMA_PEER_VENV:-$HOME/.cache/stemma/dagster-venv}"
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
installed="$("$venv/bin/pip" freeze 2>/dev/null)"
for pin in $(grep -v '^#' "$here/requirements.txt"); do
    if ! grep -qxF "$pin" <<<"$installed"; then
        "$venv/bin/pip" install --quiet --requirement "$here/requirements.txt"
        break
    fi
done
target="${CARGO_TARGET_DIR:-$repo/target}"
# Two builds, not one: built together, the two packages' features unify into another set
# than either alone, and neither build would be reused.
(cd "$repo" && cargo build --quiet --release -p stemma-benches --bin peer_location)
(cd "$repo" && cargo build --quiet --release -p assets --bin assets)
exec "$venv/bin/python" "$here/harness.py" --stemma "$target/release/peer_location" \
    --assets "$target/release/assets" --venv "$venv" "$@"
