#!/usr/bin/env bash
# THE demo of pgferry's main job: make a replica database an exact copy of a
# primary with the real `pgferry` binary (dump, list, restore --clean), on a
# throwaway local PostgreSQL cluster that is removed afterwards, then check
# table by table that both sides hold the same rows.
#
# Installs PostgreSQL from Debian's/Ubuntu's packages if it is missing
# (scripts/install-postgres.sh), builds pgferry and the demo in release mode,
# and runs examples/demo.rs. Exits non-zero if anything differs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "bash scripts/install-postgres.sh"
bash scripts/install-postgres.sh

step "cargo build --release --bin pgferry --example demo"
cargo build --release --bin pgferry --example demo

step "target/release/examples/demo"
exec target/release/examples/demo "$@"
