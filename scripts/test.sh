#!/usr/bin/env bash
# THE test command for pgferry: makes sure PostgreSQL is installed, then
# checks formatting, runs clippy and runs every test in the workspace.
# Extra arguments are passed to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "bash scripts/install-postgres.sh"
bash scripts/install-postgres.sh

# The version matrix: every server major from 13 to 18 (13, 14, 16, 17, 18
# from npm's @embedded-postgres builds; 15 from Debian). Set
# PGFERRY_PG_VERSIONS=15 to run against the default server only.
if [[ -z "${PGFERRY_PG_VERSIONS:-}" ]]; then
    export PGFERRY_PG_VERSIONS=13,14,15,16,17,18
fi
if [[ "$PGFERRY_PG_VERSIONS" != "15" ]]; then
    step "bash scripts/install-pg-versions.sh"
    bash scripts/install-pg-versions.sh
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc --workspace --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test --workspace $*"
log="$(mktemp "${TMPDIR:-/tmp}/pgferry-test.XXXXXX")"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?

# Closing summary over all test binaries and doc tests.
awk -v status="$status" '
    /^test result:/ {
        binaries++
        for (i = 1; i <= NF; i++) {
            v = $i + 0
            if ($(i + 1) ~ /^passed/)   passed  += v
            if ($(i + 1) ~ /^failed/)   failed  += v
            if ($(i + 1) ~ /^ignored/)  ignored += v
        }
    }
    END {
        printf "\n==> summary: %d passed, %d failed, %d ignored (%d test groups); cargo test exit status %d: %s\n",
            passed, failed, ignored, binaries, status, (status == 0 && failed == 0) ? "OK" : "FAILED"
    }' "$log"
exit "$status"
