#!/usr/bin/env bash
# Runs the side-by-side benchmark (pgferry vs pg_dump/pg_restore and the
# failover cycle) on a throwaway cluster. Knobs: PGFERRY_BENCH_SCALE (20),
# PGFERRY_BENCH_ROUNDS (3), PGFERRY_BENCH_PG_DUMP (a pg_dump >= 16 for the zstd runs),
# PGFERRY_BENCH_BIG_TABLE_MB (unset: skip the one-big-table case);
# incremental sync cases (issue #13, run last): PGFERRY_BENCH_ONLY=incremental
# (only them), PGFERRY_BENCH_CASES (abcd), PGFERRY_BENCH_PGBENCH_SECONDS (10),
# PGFERRY_BENCH_CHECKS (all | first | none). Exits 1 when a check after an
# incremental sync found a difference.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-postgres.sh
cargo bench --bench compare
